//! OCR correction: lookalikes fixed by character class, lookalikes in document numbers fixed
//! only when the check digit admits exactly one answer, and every change reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use simgate_documents::mrz::{Correction, CorrectionMethod, MrzField, ReasonCode};
use time::macros::date;

fn correction(
    field: MrzField,
    line: usize,
    column: usize,
    from: char,
    to: char,
    method: CorrectionMethod,
) -> Correction {
    Correction {
        field,
        line,
        column,
        from,
        to,
        method,
    }
}

#[test]
fn letter_o_in_a_date_becomes_zero_and_is_reported() {
    // Birth date 740812 read as 74O812 (line 2, column 16).
    let line2 = replace_at(TD3_SPECIMEN[1], 15, 'O');
    let reading = read(&[TD3_SPECIMEN[0], &line2]);
    assert_eq!(reading.birth_date.date, Some(date!(1974 - 08 - 12)));
    assert!(reading.all_fields_valid());
    assert_eq!(
        reading.corrections,
        [correction(
            MrzField::BirthDate,
            2,
            16,
            'O',
            '0',
            CorrectionMethod::CharacterClass
        )]
    );
    assert_eq!(reading.corrected_lines[1], TD3_SPECIMEN[1]);
}

#[test]
fn letters_in_check_digits_become_digits() {
    // Composite 0 read as O, expiry check digit 9 has no lookalike so stays; birth check 2 as Z.
    let line2 = replace_at(&replace_at(TD3_SPECIMEN[1], 43, 'O'), 19, 'Z');
    let reading = read(&[TD3_SPECIMEN[0], &line2]);
    assert!(reading.all_check_digits_valid, "{reading:#?}");
    assert_eq!(
        reading.corrections,
        [
            correction(
                MrzField::BirthDate,
                2,
                20,
                'Z',
                '2',
                CorrectionMethod::CharacterClass
            ),
            correction(
                MrzField::Composite,
                2,
                44,
                'O',
                '0',
                CorrectionMethod::CharacterClass
            ),
        ]
    );
}

#[test]
fn digits_in_names_and_codes_become_letters() {
    let reading = Td3 {
        issuing_state: "UT0",
        names: "8ERG<<ANNA<MAR1A",
        nationality: "5WE",
        ..Td3::specimen()
    }
    .read();
    assert!(reading.all_fields_valid(), "{reading:#?}");
    assert_eq!(reading.issuing_state.code, "UTO");
    assert_eq!(reading.nationality.code, "SWE");
    assert_eq!(reading.names.primary, "BERG");
    assert_eq!(reading.names.secondary, "ANNA MARIA");
    assert_eq!(
        reading.corrections,
        [
            correction(
                MrzField::IssuingState,
                1,
                5,
                '0',
                'O',
                CorrectionMethod::CharacterClass
            ),
            correction(
                MrzField::Names,
                1,
                6,
                '8',
                'B',
                CorrectionMethod::CharacterClass
            ),
            correction(
                MrzField::Names,
                1,
                20,
                '1',
                'I',
                CorrectionMethod::CharacterClass
            ),
            correction(
                MrzField::Nationality,
                2,
                11,
                '5',
                'S',
                CorrectionMethod::CharacterClass
            ),
        ]
    );
}

#[test]
fn digits_without_letter_lookalikes_in_names_stay_invalid() {
    let reading = Td3 {
        names: "ERIK4SON<<ANNA",
        ..Td3::specimen()
    }
    .read();
    assert_eq!(
        reading.field(MrzField::Names).unwrap().reasons,
        [ReasonCode::InvalidCharacter]
    );
}

#[test]
fn document_number_lookalikes_resolved_when_exactly_one_combination_validates() {
    // N40729KX3 printed, read as N4O7Z9KX3: two ambiguous characters, four combinations, and
    // only the original makes check digit 9 (and the composite) valid.
    let [line1, line2] = Td3 {
        document_number: "N40729KX3",
        ..Td3::specimen()
    }
    .render();
    let misread = replace_at(&replace_at(&line2, 2, 'O'), 4, 'Z');
    let reading = read(&[&line1, &misread]);
    assert_eq!(reading.document_number, "N40729KX3");
    assert!(reading.all_fields_valid(), "{reading:#?}");
    assert_eq!(
        reading.corrections,
        [
            correction(
                MrzField::DocumentNumber,
                2,
                3,
                'O',
                '0',
                CorrectionMethod::CheckDigitSearch
            ),
            correction(
                MrzField::DocumentNumber,
                2,
                5,
                'Z',
                '2',
                CorrectionMethod::CheckDigitSearch
            ),
        ]
    );
}

#[test]
fn ambiguous_document_number_is_left_invalid() {
    // The specimen's L898902C3 read as L8989O2C3: L898902C3, LB9B902C3 and LB9890ZC3 all
    // satisfy check digit 6, so nothing is changed.
    let line2 = replace_at(TD3_SPECIMEN[1], 5, 'O');
    let reading = read(&[TD3_SPECIMEN[0], &line2]);
    assert_eq!(reading.document_number, "L8989O2C3");
    assert!(reading.corrections.is_empty(), "{:?}", reading.corrections);
    assert_eq!(
        reading.field(MrzField::DocumentNumber).unwrap().reasons,
        [ReasonCode::CheckDigitMismatch]
    );
    assert!(!reading.all_check_digits_valid);
}

#[test]
fn six_and_g_are_never_swapped_by_check_digit_search() {
    // 6 and G weigh the same mod 10, so a check digit cannot tell them apart.
    let [line1, line2] = Td3 {
        document_number: "X6Y7K9",
        ..Td3::specimen()
    }
    .render();
    let misread = replace_at(&line2, 1, 'G');
    let reading = read(&[&line1, &misread]);
    assert_eq!(reading.document_number, "XGY7K9");
    assert!(reading.corrections.is_empty());
    assert!(reading.field(MrzField::DocumentNumber).unwrap().valid);
}

#[test]
fn lowercase_and_whitespace_are_normalised_without_corrections() {
    let messy = format!(
        "\r\n   {}  \r\n\r\n\t{}\t\n\n",
        TD3_SPECIMEN[0].to_lowercase(),
        TD3_SPECIMEN[1].to_lowercase()
    );
    let reading = simgate_documents::read_mrz(&messy, TODAY).unwrap();
    assert_eq!(reading, read(&TD3_SPECIMEN));
    assert!(reading.corrections.is_empty());
}

#[test]
fn an_unknown_state_code_with_one_known_o_q_lookalike_is_corrected() {
    // The OCR-B classifier reads the specimen's O as Q in `UTO` (seen on rendered passports).
    let line1 = replace_at(TD3_SPECIMEN[0], 4, 'Q');
    let line2 = replace_at(TD3_SPECIMEN[1], 12, 'Q');
    let reading = read(&[&line1, &line2]);
    assert_eq!(reading.issuing_state.code, "UTO");
    assert_eq!(reading.nationality.code, "UTO");
    assert!(reading.all_fields_valid());
    assert_eq!(
        reading.corrections,
        [
            correction(
                MrzField::IssuingState,
                1,
                5,
                'Q',
                'O',
                CorrectionMethod::KnownStateCode
            ),
            correction(
                MrzField::Nationality,
                2,
                13,
                'Q',
                'O',
                CorrectionMethod::KnownStateCode
            ),
        ]
    );
    // A known code is never touched, and an unknown one without a known lookalike stays.
    assert!(read(&TD3_SPECIMEN).corrections.is_empty());
    let unknown = replace_at(TD3_SPECIMEN[0], 2, 'Q');
    let unknown = replace_at(&unknown, 3, 'Q');
    let unknown = replace_at(&unknown, 4, 'Q');
    let reading = read(&[&unknown, TD3_SPECIMEN[1]]);
    assert_eq!(reading.issuing_state.code, "QQQ");
    assert!(!reading.issuing_state.is_known());
}
