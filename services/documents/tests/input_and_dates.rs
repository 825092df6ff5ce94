//! Structural errors (line count, lengths, characters), century inference, expiry and age
//! against a given date, per-field date and country problems, and the JSON shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use simgate_documents::DocumentError;
use simgate_documents::mrz::{MrzField, ReasonCode, Sex, read_mrz};
use time::macros::date;

#[test]
fn wrong_line_counts_are_errors() {
    let four = [
        TD1_SPECIMEN[0],
        TD1_SPECIMEN[1],
        TD1_SPECIMEN[2],
        TD1_SPECIMEN[2],
    ];
    assert_eq!(
        read_mrz(&joined(&four), TODAY).unwrap_err(),
        DocumentError::MrzLineCount { found: 4 }
    );
    assert_eq!(
        read_mrz(TD3_SPECIMEN[1], TODAY).unwrap_err(),
        DocumentError::MrzLineCount { found: 1 }
    );
    assert_eq!(
        read_mrz(" \n\n ", TODAY).unwrap_err(),
        DocumentError::MrzLineCount { found: 0 }
    );
}

#[test]
fn wrong_lengths_are_errors_naming_the_line() {
    let short = &TD3_SPECIMEN[1][..43];
    assert_eq!(
        read_mrz(&joined(&[TD3_SPECIMEN[0], short]), TODAY).unwrap_err(),
        DocumentError::MrzLineLength {
            line: 2,
            found: 43,
            expected: "44, like line 1"
        }
    );
    let error = read_mrz(&joined(&[&TD3_SPECIMEN[0][..40], TD3_SPECIMEN[1]]), TODAY).unwrap_err();
    assert!(matches!(
        error,
        DocumentError::MrzLineLength {
            line: 1,
            found: 40,
            ..
        }
    ));
    // Three TD3-length lines are not a TD1.
    let error = read_mrz(
        &joined(&[TD3_SPECIMEN[0], TD3_SPECIMEN[1], TD3_SPECIMEN[1]]),
        TODAY,
    )
    .unwrap_err();
    assert_eq!(
        error,
        DocumentError::MrzLineLength {
            line: 1,
            found: 44,
            expected: "30 (TD1)"
        }
    );
    assert!(error.to_string().contains("line 1 has 44 characters"));
}

#[test]
fn illegal_characters_are_errors_naming_line_and_column() {
    let hyphenated = TD3_SPECIMEN[0].replacen("ANNA<MARIA", "ANNA-MARIA", 1);
    let error = read_mrz(&joined(&[&hyphenated, TD3_SPECIMEN[1]]), TODAY).unwrap_err();
    assert_eq!(
        error,
        DocumentError::MrzIllegalCharacter {
            line: 1,
            column: 20,
            found: '-'
        }
    );
    assert_eq!(
        error.to_string(),
        "MRZ line 1, column 20: character '-' is not allowed (only A-Z, 0-9 and '<')"
    );
    // Blank lines do not shift the line number; leading whitespace does not shift the column.
    let spaced = format!(
        "{}\n\n   {}",
        TD3_SPECIMEN[0],
        replace_at(TD3_SPECIMEN[1], 3, '«')
    );
    assert_eq!(
        read_mrz(&spaced, TODAY).unwrap_err(),
        DocumentError::MrzIllegalCharacter {
            line: 2,
            column: 4,
            found: '«'
        }
    );
}

#[test]
fn birth_century_inference_around_today() {
    let born = |birth: &'static str| {
        Td3 {
            birth,
            ..Td3::specimen()
        }
        .read()
    };
    let reading = born("261125");
    assert_eq!(reading.birth_date.date, Some(date!(2026 - 11 - 25)));
    assert_eq!(reading.age_on(TODAY), Some(0));
    let reading = born("261126");
    assert_eq!(reading.birth_date.date, Some(date!(1926 - 11 - 26)));
    assert_eq!(reading.age_on(TODAY), Some(99));
    assert_eq!(born("081126").age_on(TODAY), Some(17));
    assert_eq!(born("081125").age_on(TODAY), Some(18));
}

#[test]
fn expiry_century_window_and_expired_flag() {
    let expiring = |expiry: &'static str| {
        Td3 {
            expiry,
            ..Td3::specimen()
        }
        .read()
    };
    assert_eq!(expiring("760101").expiry_date.year, Some(2076));
    assert_eq!(expiring("770101").expiry_date.year, Some(1977));
    let reading = expiring("261125");
    assert!(reading.all_fields_valid(), "expired is not a parse error");
    assert!(!reading.expired(TODAY), "valid through its expiry date");
    assert!(reading.expired(date!(2026 - 11 - 26)));
    assert!(!reading.expired(date!(2020 - 01 - 01)));

    let specimen = read(&TD3_SPECIMEN);
    assert!(specimen.expired(TODAY));
    assert!(!specimen.expired(date!(2012 - 04 - 15)));
    assert!(specimen.expired(date!(2012 - 04 - 16)));
}

#[test]
fn untrusted_expiry_counts_as_expired() {
    let line2 = replace_at(TD3_SPECIMEN[1], 27, '0');
    let reading = read(&[TD3_SPECIMEN[0], &line2]);
    assert_eq!(reading.expiry_date.date, Some(date!(2012 - 04 - 15)));
    assert!(
        reading.expired(date!(2010 - 01 - 01)),
        "check digit fails, so not trusted"
    );
}

#[test]
fn impossible_dates_are_per_field_problems() {
    let reading = Td3 {
        birth: "741312",
        expiry: "300230",
        ..Td3::specimen()
    }
    .read();
    assert_eq!(
        reading.field(MrzField::BirthDate).unwrap().reasons,
        [ReasonCode::InvalidDate]
    );
    assert_eq!(
        reading.field(MrzField::ExpiryDate).unwrap().reasons,
        [ReasonCode::InvalidDate]
    );
    assert!(reading.all_check_digits_valid);
    assert_eq!(reading.birth_date.date, None);
    assert_eq!(reading.age_on(TODAY), None);
    assert!(reading.expired(TODAY));
    assert_eq!(reading.document_number, "L898902C3");
}

#[test]
fn unknown_birth_day_and_month_are_reported_as_unknown() {
    let reading = Td3 {
        birth: "0811<<",
        ..Td3::specimen()
    }
    .read();
    assert!(reading.all_fields_valid(), "{reading:#?}");
    let birth = &reading.birth_date;
    assert_eq!(
        (birth.year, birth.month, birth.day, birth.date),
        (Some(2008), Some(11), None, None)
    );
    assert!(birth.has_unknown_parts());
    // Born some day in November 2008: 18 only once the whole month has passed.
    assert_eq!(reading.age_on(date!(2026 - 11 - 29)), Some(17));
    assert_eq!(reading.age_on(date!(2026 - 11 - 30)), Some(18));

    let reading = Td3 {
        expiry: "3012<<",
        ..Td3::specimen()
    }
    .read();
    assert_eq!(
        reading.field(MrzField::ExpiryDate).unwrap().reasons,
        [ReasonCode::IncompleteDate]
    );
}

#[test]
fn unknown_country_codes_are_flagged() {
    let reading = Td3 {
        issuing_state: "QQQ",
        nationality: "ZZZ",
        ..Td3::specimen()
    }
    .read();
    assert!(reading.all_check_digits_valid);
    for field in [MrzField::IssuingState, MrzField::Nationality] {
        assert_eq!(
            reading.field(field).unwrap().reasons,
            [ReasonCode::UnknownCountry],
            "{field:?}"
        );
    }
    assert_eq!(reading.issuing_state.kind, None);
    assert!(!reading.all_fields_valid());

    let stateless = Td3 {
        nationality: "XXA",
        ..Td3::specimen()
    }
    .read();
    assert!(stateless.all_fields_valid());
}

#[test]
fn sex_accepts_m_f_x_and_filler_only() {
    let with_sex = |sex| {
        Td3 {
            sex,
            ..Td3::specimen()
        }
        .read()
    };
    assert_eq!(with_sex('M').sex, Some(Sex::Male));
    assert_eq!(with_sex('X').sex, Some(Sex::Unspecified));
    assert_eq!(with_sex('<').sex, Some(Sex::Unspecified));
    let reading = with_sex('Q');
    assert_eq!(reading.sex, None);
    assert_eq!(
        reading.field(MrzField::Sex).unwrap().reasons,
        [ReasonCode::InvalidSex]
    );
}

#[test]
fn reading_serialises_with_stable_snake_case_names() {
    let line2 = replace_at(TD3_SPECIMEN[1], 15, 'O');
    let json = serde_json::to_value(read(&[TD3_SPECIMEN[0], &line2])).unwrap();
    assert_eq!(json["format"], "td3");
    assert_eq!(json["issuing_state"]["code"], "UTO");
    assert_eq!(json["issuing_state"]["kind"], "icao_special");
    assert_eq!(json["birth_date"]["date"], "1974-08-12");
    assert_eq!(json["sex"], "female");
    assert_eq!(json["composite_check"], "valid");
    assert_eq!(json["corrections"][0]["field"], "birth_date");
    assert_eq!(json["corrections"][0]["from"], "O");
    assert_eq!(json["corrections"][0]["method"], "character_class");
    assert_eq!(json["fields"][0]["field"], "document_code");

    let mutated = replace_at(TD3_SPECIMEN[1], 9, '5');
    let json = serde_json::to_value(read(&[TD3_SPECIMEN[0], &mutated])).unwrap();
    assert_eq!(json["fields"][2]["field"], "document_number");
    assert_eq!(json["fields"][2]["reasons"][0], "check_digit_mismatch");
    assert_eq!(json["all_check_digits_valid"], false);
}
