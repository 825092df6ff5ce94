//! The ICAO 9303 specimen MRZs of every format, other published vectors (part 10's Dutch
//! card, part 5's long document number, BSI's German passport), and the MRZs transcribed by
//! eye from the eight development images in `../shared/data/mrz-dev/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use simgate_documents::DocumentError;
use simgate_documents::mrz::{
    CompositeCheck, MrzField, MrzFormat, MrzReading, ReasonCode, Sex, StateCodeKind, read_mrz,
};
use time::macros::date;

fn assert_fully_valid(reading: &MrzReading) {
    assert!(reading.all_check_digits_valid, "{reading:#?}");
    assert!(reading.all_fields_valid(), "{reading:#?}");
    assert!(reading.corrections.is_empty(), "{:?}", reading.corrections);
}

/// The fields every ERIKSSON specimen shares.
fn assert_anna_maria_eriksson(reading: &MrzReading) {
    assert_eq!(reading.issuing_state.code, "UTO");
    assert_eq!(reading.issuing_state.kind, Some(StateCodeKind::IcaoSpecial));
    assert_eq!(reading.names.primary, "ERIKSSON");
    assert_eq!(reading.names.secondary, "ANNA MARIA");
    assert!(!reading.names.truncated);
    assert_eq!(reading.sex, Some(Sex::Female));
}

#[test]
fn td1_specimen_part5() {
    let reading = read(&TD1_SPECIMEN);
    assert_fully_valid(&reading);
    assert_anna_maria_eriksson(&reading);
    assert_eq!(reading.format, MrzFormat::Td1);
    assert_eq!(reading.document_code, "I");
    assert_eq!(reading.document_number, "D23145890");
    assert_eq!(reading.nationality.code, "UTO");
    assert_eq!(reading.birth_date.date, Some(date!(1974 - 08 - 12)));
    assert_eq!(reading.expiry_date.date, Some(date!(2012 - 04 - 15)));
    assert_eq!(reading.optional_data_1, "");
    assert_eq!(reading.optional_data_2.as_deref(), Some(""));
    assert_eq!(reading.composite_check, CompositeCheck::Valid);
}

#[test]
fn td2_specimen_part6() {
    let reading = read(&TD2_SPECIMEN);
    assert_fully_valid(&reading);
    assert_anna_maria_eriksson(&reading);
    assert_eq!(reading.format, MrzFormat::Td2);
    assert_eq!(reading.document_code, "I");
    assert_eq!(reading.document_number, "D23145890");
    assert_eq!(reading.birth_date.date, Some(date!(1974 - 08 - 12)));
    assert_eq!(reading.expiry_date.date, Some(date!(2012 - 04 - 15)));
    assert_eq!(reading.optional_data_1, "");
    assert_eq!(reading.optional_data_2, None);
    assert_eq!(reading.composite_check, CompositeCheck::Valid);
}

#[test]
fn td3_specimen_part4() {
    let reading = read(&TD3_SPECIMEN);
    assert_fully_valid(&reading);
    assert_anna_maria_eriksson(&reading);
    assert_eq!(reading.format, MrzFormat::Td3);
    assert_eq!(reading.document_code, "P");
    assert_eq!(reading.document_number, "L898902C3");
    assert_eq!(reading.optional_data_1, "ZE184226B");
    assert_eq!(reading.birth_date.date, Some(date!(1974 - 08 - 12)));
    assert_eq!(reading.expiry_date.date, Some(date!(2012 - 04 - 15)));
    assert_eq!(reading.composite_check, CompositeCheck::Valid);
    assert!(reading.field(MrzField::OptionalData1).unwrap().valid);
}

#[test]
fn mrv_a_specimen_part7_has_no_composite() {
    let reading = read(&MRV_A_SPECIMEN);
    assert_fully_valid(&reading);
    assert_anna_maria_eriksson(&reading);
    assert_eq!(reading.format, MrzFormat::MrvA);
    assert_eq!(reading.document_code, "V");
    assert_eq!(reading.document_number, "L8988901C");
    assert_eq!(reading.nationality.code, "XXX");
    assert_eq!(reading.birth_date.date, Some(date!(1940 - 09 - 07)));
    assert_eq!(reading.expiry_date.date, Some(date!(1996 - 12 - 10)));
    assert_eq!(reading.optional_data_1, "6ZE184226B");
    assert_eq!(reading.composite_check, CompositeCheck::NotApplicable);
    assert!(reading.field(MrzField::Composite).is_none());
}

#[test]
fn mrv_b_specimen_part7_has_no_composite() {
    let reading = read(&MRV_B_SPECIMEN);
    assert_fully_valid(&reading);
    assert_anna_maria_eriksson(&reading);
    assert_eq!(reading.format, MrzFormat::MrvB);
    assert_eq!(reading.document_number, "L8988901C");
    assert_eq!(reading.birth_date.date, Some(date!(1940 - 09 - 07)));
    assert_eq!(reading.expiry_date.date, Some(date!(1996 - 12 - 10)));
    assert_eq!(reading.optional_data_1, "");
    assert_eq!(reading.composite_check, CompositeCheck::NotApplicable);
}

/// ICAO 9303 part 10 A.2.1 (the LDS DG1 example). The brief calls it part 5's long document
/// number example, but position 15 holds the check digit `6`, not `<`: the number is the
/// ordinary nine-character `XI85935F8` and `999999990` is optional data. Every field check
/// digit validates; the printed composite `4` does not (computed: 8), so the example as
/// published is misprinted in its last character.
#[test]
fn netherlands_part10_example_has_a_misprinted_composite() {
    let lines = [
        "I<NLDXI85935F86999999990<<<<<<",
        "7208148F1108268NLD<<<<<<<<<<<4",
        "VAN<DER<STEEN<<MARIANNE<LOUISE",
    ];
    let reading = read(&lines);
    assert_eq!(reading.document_number, "XI85935F8");
    assert_eq!(reading.optional_data_1, "999999990");
    assert_eq!(reading.names.primary, "VAN DER STEEN");
    assert_eq!(reading.names.secondary, "MARIANNE LOUISE");
    assert!(reading.names.truncated, "the name fills line 3 exactly");
    assert_eq!(reading.birth_date.date, Some(date!(1972 - 08 - 14)));
    assert_eq!(reading.expiry_date.date, Some(date!(2011 - 08 - 26)));
    for field in [
        MrzField::DocumentNumber,
        MrzField::BirthDate,
        MrzField::ExpiryDate,
    ] {
        assert!(reading.field(field).unwrap().valid, "{field:?}");
    }
    assert_eq!(reading.composite_check, CompositeCheck::Invalid);
    assert_eq!(
        reading.field(MrzField::Composite).unwrap().reasons,
        [ReasonCode::CheckDigitMismatch]
    );
    assert!(!reading.all_check_digits_valid);
    assert!(reading.corrections.is_empty());

    let fixed = replace_at(lines[1], 29, '8');
    let reading = read(&[lines[0], &fixed, lines[2]]);
    assert_fully_valid(&reading);
}

/// ICAO 9303 part 5's long document number: `D23145890734`, with `<` at position 15 and the
/// check digit `9` after the overflow `734`.
#[test]
fn td1_long_document_number_continues_into_optional_data() {
    let reading = read(&[
        "I<UTOD23145890<7349<<<<<<<<<<<",
        "3407127M9507122UTO<<<<<<<<<<<2",
        "STEVENSON<<PETER<JOHN<<<<<<<<<",
    ]);
    assert_fully_valid(&reading);
    assert_eq!(reading.document_number, "D23145890734");
    assert_eq!(reading.optional_data_1, "");
    assert_eq!(reading.sex, Some(Sex::Male));
    assert_eq!(reading.birth_date.date, Some(date!(1934 - 07 - 12)));
    assert_eq!(reading.expiry_date.date, Some(date!(1995 - 07 - 12)));

    // Optional data after the continuation's terminating filler stays optional data.
    let reading = read(&[
        "I<UTOD23145890<7349<ABC<<<<<<<",
        "3407127M9507122UTO<<<<<<<<<<<7",
        "STEVENSON<<PETER<JOHN<<<<<<<<<",
    ]);
    assert_eq!(reading.document_number, "D23145890734");
    assert_eq!(reading.optional_data_1, "ABC");
    assert_fully_valid(&reading);

    // Wrong long-number check digit: the number field fails, not the parse.
    let reading = read(&[
        "I<UTOD23145890<7348<<<<<<<<<<<",
        "3407127M9507122UTO<<<<<<<<<<<2",
        "STEVENSON<<PETER<JOHN<<<<<<<<<",
    ]);
    assert_eq!(
        reading.field(MrzField::DocumentNumber).unwrap().reasons,
        [ReasonCode::CheckDigitMismatch]
    );
}

/// The same long number in a TD2 (ICAO 9303 part 11, appendix D.2).
#[test]
fn td2_long_document_number() {
    let reading = read(&[
        "I<UTOSTEVENSON<<PETER<JOHN<<<<<<<<<<",
        "D23145890<UTO3407127M95071227349<<<8",
    ]);
    assert_fully_valid(&reading);
    assert_eq!(reading.document_number, "D23145890734");
    assert_eq!(reading.optional_data_1, "");
}

/// BSI TR-03105 part 5-1's default passport: Germany is `D<<`, and the personal number is
/// all fillers with check digit `0`.
#[test]
fn germany_is_d_with_fillers() {
    let reading = read(&[
        "P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<",
        "C11T002JM4D<<9608122F2310314<<<<<<<<<<<<<<04",
    ]);
    assert_fully_valid(&reading);
    assert_eq!(reading.issuing_state.code, "D");
    assert_eq!(reading.issuing_state.kind, Some(StateCodeKind::IcaoSpecial));
    assert_eq!(reading.nationality.code, "D");
    assert_eq!(reading.document_number, "C11T002JM");
    assert_eq!(reading.names.primary, "MUSTERMANN");
    assert_eq!(reading.birth_date.date, Some(date!(1996 - 08 - 12)));
    assert_eq!(reading.expiry_date.date, Some(date!(2023 - 10 - 31)));
}

/// TD3 allows `<` as the check digit of an all-filler personal number.
#[test]
fn td3_all_filler_personal_number_may_have_filler_check_digit() {
    let reading = read(&[
        "P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<",
        "C11T002JM4D<<9608122F2310314<<<<<<<<<<<<<<<4",
    ]);
    assert_fully_valid(&reading);
    // …but not when there is a personal number to protect.
    let reading = read(&[
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<<0",
    ]);
    assert_eq!(
        reading.field(MrzField::OptionalData1).unwrap().reasons,
        [ReasonCode::CheckDigitMismatch]
    );
}

// --- The development images in ../shared/data/mrz-dev/, transcribed by eye. ---
// 100_pass-uto.jpg and passport-td3.jpg show exactly TD3_SPECIMEN; passport-td2.jpg shows
// exactly TD2_SPECIMEN (both covered above). The rest follow.

/// 100_pass-fin.png: Finnish specimen passport; every check digit validates.
#[test]
fn dev_image_finland_td3() {
    let reading = read(&[
        "P<FINVIRTANEN<<MARIA<OLIVIA<<<<<<<<<<<<<<<<<",
        "XP82716024FIN7112214F1108213211271<426U<<<04",
    ]);
    assert_fully_valid(&reading);
    assert_eq!(reading.document_number, "XP8271602");
    assert_eq!(reading.names.primary, "VIRTANEN");
    assert_eq!(reading.names.secondary, "MARIA OLIVIA");
    assert_eq!(reading.optional_data_1, "211271<426U");
    assert_eq!(reading.birth_date.date, Some(date!(1971 - 12 - 21)));
    assert_eq!(reading.expiry_date.date, Some(date!(2011 - 08 - 21)));
}

/// 79_pass-hun.png: Hungarian specimen passport; every check digit validates.
#[test]
fn dev_image_hungary_td3() {
    let reading = read(&[
        "P<HUNHANDRA<<ROZALIA<IRMA<<<<<<<<<<<<<<<<<<<",
        "BD00020282HUN7802225F2203012<<<<<<<<<<<<<<06",
    ]);
    assert_fully_valid(&reading);
    assert_eq!(reading.document_number, "BD0002028");
    assert_eq!(reading.names.secondary, "ROZALIA IRMA");
    assert_eq!(reading.birth_date.date, Some(date!(1978 - 02 - 22)));
    assert_eq!(reading.expiry_date.date, Some(date!(2022 - 03 - 01)));
}

/// 43_pass-fra.jpg: French diplomatic specimen passport; every check digit validates.
#[test]
fn dev_image_france_td3() {
    let reading = read(&[
        "P<FRAULYSSE<<CHRISTOPHE<<<<<<<<<<<<<<<<<<<<<",
        "08CD503380FRA6004103M1806058<<<<<<<<<<<<<<06",
    ]);
    assert_fully_valid(&reading);
    assert_eq!(reading.document_number, "08CD50338");
    assert_eq!(reading.sex, Some(Sex::Male));
    assert_eq!(reading.birth_date.date, Some(date!(1960 - 04 - 10)));
    assert_eq!(reading.expiry_date.date, Some(date!(2018 - 06 - 05)));
}

/// 100_id-che.jpg: Swiss specimen identity card (TD1, eight-character number padded with
/// `<`); every check digit validates.
#[test]
fn dev_image_switzerland_td1() {
    let reading = read(&[
        "IDCHES0002068<8<<<<<<<<<<<<<<<",
        "8102287F1301014CHE<<<<<<<<<<<4",
        "VADIS<<QUO<<<<<<<<<<<<<<<<<<<<",
    ]);
    assert_fully_valid(&reading);
    assert_eq!(reading.document_code, "ID");
    assert_eq!(reading.document_number, "S0002068");
    assert_eq!(reading.names.primary, "VADIS");
    assert_eq!(reading.names.secondary, "QUO");
    assert_eq!(reading.birth_date.date, Some(date!(1981 - 02 - 28)));
    assert_eq!(reading.expiry_date.date, Some(date!(2013 - 01 - 01)));
}

/// 0_id-esp.png: an illustration of a Spanish identity card. Line 3 prints `Ñ`, which is not
/// an MRZ character, and uses a single `<` between surname and given name. With `Ñ` read as
/// `N`, the document number (computed 8, printed 4), birth date (computed 1, printed 8) and
/// composite check digits all fail: the picture is not a consistent MRZ.
#[test]
fn dev_image_spain_td1_is_not_a_valid_mrz() {
    let line1 = "IDESPAAA1000014<00000023T<<<<<";
    let line2 = "7212018F1101236ESP<<<<<<<<<<<8";
    let error = read_mrz(
        &joined(&[line1, line2, "ESPAÑOLA<ESPAÑOLA<CARMEN<<<<<<"]),
        TODAY,
    )
    .unwrap_err();
    assert_eq!(
        error,
        DocumentError::MrzIllegalCharacter {
            line: 3,
            column: 5,
            found: 'Ñ'
        }
    );

    let reading = read(&[line1, line2, "ESPANOLA<ESPANOLA<CARMEN<<<<<<"]);
    assert!(!reading.all_check_digits_valid);
    assert_eq!(reading.names.primary, "ESPANOLA ESPANOLA CARMEN");
    assert_eq!(reading.names.secondary, "");
    for field in [
        MrzField::DocumentNumber,
        MrzField::BirthDate,
        MrzField::Composite,
    ] {
        assert_eq!(
            reading.field(field).unwrap().reasons,
            [ReasonCode::CheckDigitMismatch],
            "{field:?}"
        );
    }
    assert!(reading.field(MrzField::ExpiryDate).unwrap().valid);
    assert!(
        reading.corrections.is_empty(),
        "no unique correction exists: {:?}",
        reading.corrections
    );
}
