//! Reading an MRZ: from validated lines to an [`MrzReading`] with every field parsed,
//! corrected where that is safe, and checked.
//!
//! Layout: `Layout` says where each field sits in each format (ICAO 9303 parts 4–7); the
//! reading works on a mutable copy of the lines (`Grid`) in four passes: correct by
//! character class, locate check-digit-protected fields (this is where the long document
//! number rule lives), correct by check-digit search, then extract values and validity.

use serde::Serialize;
use time::Date;

use super::check_digit::check_digit_of_bytes;
use super::correction::{
    Correction, CorrectionMethod, check_digit_searchable_lookalike, digit_lookalike,
    letter_letter_lookalike, letter_lookalike,
};
use super::dates::{DateRole, MrzDate, parse_mrz_date};
use super::fields::{
    CompositeCheck, FieldValidity, HolderNames, MrzField, ReasonCode, Sex, StateCode,
};
use super::format::MrzFormat;
use super::text::MrzText;
use crate::DocumentError;

/// Most ambiguous characters the check-digit search will combine (2^12 = 4096 candidates);
/// beyond that the search is both slow and almost certain to find several answers.
const MAX_AMBIGUOUS_POSITIONS: usize = 12;

/// Everything read from one MRZ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MrzReading {
    /// The format, detected from line count, line length and document code.
    pub format: MrzFormat,
    /// Document code without fillers, e.g. `P`, `I`, `ID`, `V`.
    pub document_code: String,
    /// Issuing state or organisation.
    pub issuing_state: StateCode,
    /// Document number without fillers, including any TD1/TD2 long-number continuation.
    pub document_number: String,
    /// Holder's names.
    pub names: HolderNames,
    /// Holder's nationality.
    pub nationality: StateCode,
    /// Date of birth.
    pub birth_date: MrzDate,
    /// Sex; `None` when the character is not one ICAO allows.
    pub sex: Option<Sex>,
    /// Date of expiry.
    pub expiry_date: MrzDate,
    /// Optional data 1 without trailing fillers (TD3: the personal number); inner `<` kept.
    pub optional_data_1: String,
    /// Optional data 2 without trailing fillers; only TD1 has it.
    pub optional_data_2: Option<String>,
    /// Validity of every field the format has, in MRZ order.
    pub fields: Vec<FieldValidity>,
    /// The composite check digit's outcome.
    pub composite_check: CompositeCheck,
    /// Every character changed by OCR correction.
    pub corrections: Vec<Correction>,
    /// Every check digit, including the composite where there is one, matches.
    pub all_check_digits_valid: bool,
    /// The MRZ lines after correction, as the fields above were read from them.
    pub corrected_lines: Vec<String>,
}

impl MrzReading {
    /// The validity entry for `field`, if the format has that field.
    pub fn field(&self, field: MrzField) -> Option<&FieldValidity> {
        self.fields.iter().find(|entry| entry.field == field)
    }

    /// Whether every field and the composite passed every check.
    pub fn all_fields_valid(&self) -> bool {
        self.fields.iter().all(|entry| entry.valid)
            && self.composite_check != CompositeCheck::Invalid
    }

    /// Whether the document has expired on `today` (it is valid through its expiry date).
    /// An expiry date that cannot be trusted (invalid, incomplete or failing its check digit)
    /// counts as expired, because validity cannot be shown.
    pub fn expired(&self, today: Date) -> bool {
        let trusted = self
            .field(MrzField::ExpiryDate)
            .is_some_and(|entry| entry.valid);
        match self.expiry_date.date {
            Some(expiry) if trusted => expiry < today,
            _ => true,
        }
    }

    /// The holder's age in whole years on `today`, or `None` when the birth date is invalid,
    /// fails its check digit, has an unknown year or lies after `today`. Unknown month or day
    /// take their latest possible value, so the age is never overstated.
    pub fn age_on(&self, today: Date) -> Option<u32> {
        if !self.field(MrzField::BirthDate)?.valid {
            return None;
        }
        let birth = self.birth_date.latest_possible_date()?;
        if birth > today {
            return None;
        }
        let had_birthday = (today.month(), today.day()) >= (birth.month(), birth.day());
        let years = today.year() - birth.year() - i32::from(!had_birthday);
        u32::try_from(years).ok()
    }
}

/// Parses and validates `text`, inferring date centuries against `today`.
pub fn read_mrz_text(text: &MrzText, today: Date) -> Result<MrzReading, DocumentError> {
    let format = MrzFormat::detect(text)?;
    let layout = Layout::of(format);
    let mut grid = Grid::new(text);
    let mut corrections = Vec::new();

    correct_by_character_class(&mut grid, &layout, &mut corrections);
    correct_state_codes_by_known_list(&mut grid, &layout, &mut corrections);
    let document_number = locate_document_number(&grid, &layout);
    let mut protected = vec![document_number.clone()];
    if let Some(optional_check) = layout.optional_data_1_check {
        protected.push(ProtectedField {
            field: MrzField::OptionalData1,
            value: layout.optional_data_1.positions().collect(),
            check: optional_check,
            filler_check_allowed: true,
        });
    }
    correct_by_check_digit_search(&mut grid, &protected, &layout, &mut corrections);

    let mut fields = Vec::new();

    let document_code = grid.text(layout.document_code);
    fields.push(FieldValidity::new(
        MrzField::DocumentCode,
        document_code_problems(&document_code),
    ));

    let issuing_state = StateCode::from_mrz(&grid.text(layout.issuing_state));
    fields.push(FieldValidity::new(
        MrzField::IssuingState,
        state_problems(&issuing_state),
    ));

    let document_number_text = grid.text_at(&document_number.value);
    let document_number_value = document_number_text.trim_end_matches('<').to_owned();
    let mut number_problems = check_problems(&grid, &document_number);
    if document_number_value.is_empty() {
        number_problems.push(ReasonCode::MissingValue);
    }
    fields.push(FieldValidity::new(
        MrzField::DocumentNumber,
        number_problems,
    ));

    let names_text = grid.text(layout.names);
    let names = HolderNames::from_mrz(&names_text);
    fields.push(FieldValidity::new(
        MrzField::Names,
        name_problems(&names_text, &names),
    ));

    let nationality = StateCode::from_mrz(&grid.text(layout.nationality));
    fields.push(FieldValidity::new(
        MrzField::Nationality,
        state_problems(&nationality),
    ));

    let (birth_date, birth_problems) = read_date(
        &grid,
        layout.birth_date,
        layout.birth_date_check,
        DateRole::Birth,
        today,
    );
    fields.push(FieldValidity::new(MrzField::BirthDate, birth_problems));

    let sex = Sex::from_mrz(grid.byte(layout.sex));
    let sex_problems = if sex.is_some() {
        Vec::new()
    } else {
        vec![ReasonCode::InvalidSex]
    };
    fields.push(FieldValidity::new(MrzField::Sex, sex_problems));

    let (expiry_date, expiry_problems) = read_date(
        &grid,
        layout.expiry_date,
        layout.expiry_date_check,
        DateRole::Expiry,
        today,
    );
    fields.push(FieldValidity::new(MrzField::ExpiryDate, expiry_problems));

    let optional_data_1 = optional_data_after_number(&grid, &layout, &document_number);
    let optional_problems = match protected
        .iter()
        .find(|p| p.field == MrzField::OptionalData1)
    {
        Some(personal_number) => check_problems(&grid, personal_number),
        None => Vec::new(),
    };
    fields.push(FieldValidity::new(
        MrzField::OptionalData1,
        optional_problems,
    ));

    let optional_data_2 = layout.optional_data_2.map(|span| {
        fields.push(FieldValidity::new(MrzField::OptionalData2, Vec::new()));
        grid.text(span).trim_end_matches('<').to_owned()
    });

    let composite_check = match &layout.composite {
        None => CompositeCheck::NotApplicable,
        Some(composite) if composite.is_valid(&grid) => CompositeCheck::Valid,
        Some(_) => CompositeCheck::Invalid,
    };
    if composite_check != CompositeCheck::NotApplicable {
        let reasons = if composite_check == CompositeCheck::Valid {
            Vec::new()
        } else {
            vec![ReasonCode::CheckDigitMismatch]
        };
        fields.push(FieldValidity::new(MrzField::Composite, reasons));
    }

    let all_check_digits_valid = fields
        .iter()
        .flat_map(|entry| &entry.reasons)
        .all(|reason| *reason != ReasonCode::CheckDigitMismatch);

    Ok(MrzReading {
        format,
        document_code: document_code.trim_end_matches('<').to_owned(),
        issuing_state,
        document_number: document_number_value,
        names,
        nationality,
        birth_date,
        sex,
        expiry_date,
        optional_data_1,
        optional_data_2,
        fields,
        composite_check,
        corrections,
        all_check_digits_valid,
        corrected_lines: grid.lines(),
    })
}

/// A character position: 0-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    line: usize,
    column: usize,
}

/// A run of characters on one line, with the field it belongs to and what it may hold.
#[derive(Debug, Clone, Copy)]
struct Span {
    field: MrzField,
    class: CharacterClass,
    line: usize,
    start: usize,
    end: usize,
}

impl Span {
    const fn new(
        field: MrzField,
        class: CharacterClass,
        line: usize,
        start: usize,
        end: usize,
    ) -> Self {
        Self {
            field,
            class,
            line,
            start,
            end,
        }
    }

    fn positions(self) -> impl Iterator<Item = Position> {
        (self.start..self.end).map(move |column| Position {
            line: self.line,
            column,
        })
    }
}

/// What characters a span may hold, which decides how OCR lookalikes are corrected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharacterClass {
    /// Digits or `<`: dates and check digits.
    Numeric,
    /// Letters or `<`: codes and names.
    Alphabetic,
    /// Letters, digits or `<`: document numbers and optional data.
    Any,
}

/// The checksum over several ranges that protects the whole MRZ.
#[derive(Debug, Clone)]
struct Composite {
    ranges: Vec<Span>,
    check: Position,
}

impl Composite {
    fn is_valid(&self, grid: &Grid) -> bool {
        let bytes = self
            .ranges
            .iter()
            .flat_map(|span| span.positions())
            .map(|p| grid.byte(p));
        let printed = grid.byte(self.check);
        check_digit_of_bytes(bytes) == Some(char::from(printed))
    }
}

/// Where every field sits in one format.
#[derive(Debug, Clone)]
struct Layout {
    document_code: Span,
    issuing_state: Span,
    names: Span,
    document_number: Span,
    document_number_check: Position,
    /// Where a long document number continues when its check position holds `<` (TD1, TD2).
    document_number_overflow: Option<Span>,
    nationality: Span,
    birth_date: Span,
    birth_date_check: Position,
    sex: Position,
    expiry_date: Span,
    expiry_date_check: Position,
    optional_data_1: Span,
    optional_data_1_check: Option<Position>,
    optional_data_2: Option<Span>,
    composite: Option<Composite>,
}

impl Layout {
    fn of(format: MrzFormat) -> Self {
        use CharacterClass::{Alphabetic, Any, Numeric};
        use MrzField as F;
        let at = |line, column| Position { line, column };
        match format {
            // Part 5: line 1 code, state, number, optional 1; line 2 dates, sex, nationality,
            // optional 2, composite; line 3 names.
            MrzFormat::Td1 => Layout {
                document_code: Span::new(F::DocumentCode, Alphabetic, 0, 0, 2),
                issuing_state: Span::new(F::IssuingState, Alphabetic, 0, 2, 5),
                document_number: Span::new(F::DocumentNumber, Any, 0, 5, 14),
                document_number_check: at(0, 14),
                document_number_overflow: Some(Span::new(F::DocumentNumber, Any, 0, 15, 30)),
                optional_data_1: Span::new(F::OptionalData1, Any, 0, 15, 30),
                optional_data_1_check: None,
                birth_date: Span::new(F::BirthDate, Numeric, 1, 0, 6),
                birth_date_check: at(1, 6),
                sex: at(1, 7),
                expiry_date: Span::new(F::ExpiryDate, Numeric, 1, 8, 14),
                expiry_date_check: at(1, 14),
                nationality: Span::new(F::Nationality, Alphabetic, 1, 15, 18),
                optional_data_2: Some(Span::new(F::OptionalData2, Any, 1, 18, 29)),
                composite: Some(Composite {
                    ranges: vec![
                        Span::new(F::Composite, Any, 0, 5, 30),
                        Span::new(F::Composite, Any, 1, 0, 7),
                        Span::new(F::Composite, Any, 1, 8, 15),
                        Span::new(F::Composite, Any, 1, 18, 29),
                    ],
                    check: at(1, 29),
                }),
                names: Span::new(F::Names, Alphabetic, 2, 0, 30),
            },
            // Parts 4, 6 and 7 share line 2 up to the expiry check digit.
            MrzFormat::Td2 | MrzFormat::Td3 | MrzFormat::MrvA | MrzFormat::MrvB => {
                let length = format.line_length();
                let optional_end = match format {
                    MrzFormat::Td2 => 35,
                    MrzFormat::Td3 => 42,
                    _ => length,
                };
                let composite_check = length - 1;
                Layout {
                    document_code: Span::new(F::DocumentCode, Alphabetic, 0, 0, 2),
                    issuing_state: Span::new(F::IssuingState, Alphabetic, 0, 2, 5),
                    names: Span::new(F::Names, Alphabetic, 0, 5, length),
                    document_number: Span::new(F::DocumentNumber, Any, 1, 0, 9),
                    document_number_check: at(1, 9),
                    document_number_overflow: (format == MrzFormat::Td2)
                        .then(|| Span::new(F::DocumentNumber, Any, 1, 28, 35)),
                    nationality: Span::new(F::Nationality, Alphabetic, 1, 10, 13),
                    birth_date: Span::new(F::BirthDate, Numeric, 1, 13, 19),
                    birth_date_check: at(1, 19),
                    sex: at(1, 20),
                    expiry_date: Span::new(F::ExpiryDate, Numeric, 1, 21, 27),
                    expiry_date_check: at(1, 27),
                    optional_data_1: Span::new(F::OptionalData1, Any, 1, 28, optional_end),
                    optional_data_1_check: (format == MrzFormat::Td3).then(|| at(1, 42)),
                    optional_data_2: None,
                    composite: format.has_composite_check_digit().then(|| Composite {
                        ranges: vec![
                            Span::new(F::Composite, Any, 1, 0, 10),
                            Span::new(F::Composite, Any, 1, 13, 20),
                            Span::new(F::Composite, Any, 1, 21, composite_check),
                        ],
                        check: at(1, composite_check),
                    }),
                }
            }
        }
    }

    /// Every span whose character class constrains OCR correction, check digits included.
    fn classed_spans(&self) -> Vec<Span> {
        use CharacterClass::Numeric;
        let check = |field, position: Position| {
            Span::new(
                field,
                Numeric,
                position.line,
                position.column,
                position.column + 1,
            )
        };
        let mut spans = vec![
            self.document_code,
            self.issuing_state,
            self.names,
            self.nationality,
            self.birth_date,
            check(MrzField::BirthDate, self.birth_date_check),
            self.expiry_date,
            check(MrzField::ExpiryDate, self.expiry_date_check),
            check(MrzField::DocumentNumber, self.document_number_check),
        ];
        if let Some(position) = self.optional_data_1_check {
            spans.push(check(MrzField::OptionalData1, position));
        }
        if let Some(composite) = &self.composite {
            spans.push(check(MrzField::Composite, composite.check));
        }
        spans
    }
}

/// The MRZ lines as mutable bytes. Reads outside the lines yield a non-MRZ byte instead of
/// panicking, which fails any check digit it takes part in; the layouts never do that for
/// lines whose lengths [`MrzFormat::detect`] accepted.
#[derive(Debug, Clone)]
struct Grid {
    lines: Vec<Vec<u8>>,
}

impl Grid {
    fn new(text: &MrzText) -> Self {
        Self {
            lines: text
                .lines()
                .iter()
                .map(|line| line.as_bytes().to_vec())
                .collect(),
        }
    }

    fn byte(&self, position: Position) -> u8 {
        self.lines
            .get(position.line)
            .and_then(|line| line.get(position.column))
            .copied()
            .unwrap_or(0)
    }

    fn set(&mut self, position: Position, value: u8) {
        if let Some(slot) = self
            .lines
            .get_mut(position.line)
            .and_then(|line| line.get_mut(position.column))
        {
            *slot = value;
        }
    }

    fn text_at(&self, positions: &[Position]) -> String {
        positions
            .iter()
            .map(|&p| char::from(self.byte(p)))
            .collect()
    }

    fn text(&self, span: Span) -> String {
        span.positions().map(|p| char::from(self.byte(p))).collect()
    }

    fn lines(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|line| line.iter().map(|&b| char::from(b)).collect())
            .collect()
    }
}

/// A field protected by its own check digit.
#[derive(Debug, Clone)]
struct ProtectedField {
    field: MrzField,
    value: Vec<Position>,
    check: Position,
    /// TD3 allows `<` as the check digit of an all-filler personal number.
    filler_check_allowed: bool,
}

impl ProtectedField {
    fn is_valid(&self, grid: &Grid) -> bool {
        let printed = grid.byte(self.check);
        let all_fillers = self.value.iter().all(|&p| grid.byte(p) == b'<');
        if self.filler_check_allowed && printed == b'<' && all_fillers {
            return true;
        }
        let computed = check_digit_of_bytes(self.value.iter().map(|&p| grid.byte(p)));
        computed == Some(char::from(printed))
    }
}

fn correct_by_character_class(grid: &mut Grid, layout: &Layout, corrections: &mut Vec<Correction>) {
    for span in layout.classed_spans() {
        let lookalike_for_class: fn(u8) -> Option<u8> = match span.class {
            CharacterClass::Numeric => digit_lookalike,
            CharacterClass::Alphabetic => letter_lookalike,
            CharacterClass::Any => continue,
        };
        for position in span.positions() {
            let read = grid.byte(position);
            if let Some(corrected) = lookalike_for_class(read) {
                grid.set(position, corrected);
                corrections.push(correction(
                    span.field,
                    position,
                    read,
                    corrected,
                    CorrectionMethod::CharacterClass,
                ));
            }
        }
    }
}

/// Corrects an unknown issuing state or nationality when exactly one combination of letter
/// lookalike swaps makes it a known code.
fn correct_state_codes_by_known_list(
    grid: &mut Grid,
    layout: &Layout,
    corrections: &mut Vec<Correction>,
) {
    for span in [layout.issuing_state, layout.nationality] {
        if StateCode::from_mrz(&grid.text(span)).is_known() {
            continue;
        }
        let ambiguous: Vec<(Position, u8)> = span
            .positions()
            .filter_map(|p| letter_letter_lookalike(grid.byte(p)).map(|other| (p, other)))
            .collect();
        let mut known = Vec::new();
        // Every non-empty subset of swaps (a state code has at most 3 letters: 7 subsets).
        for mask in 1..(1u32 << ambiguous.len()) {
            let mut candidate = grid.clone();
            for (bit, (position, other)) in ambiguous.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    candidate.set(*position, *other);
                }
            }
            if StateCode::from_mrz(&candidate.text(span)).is_known() {
                known.push(mask);
            }
        }
        if let [mask] = known[..] {
            for (bit, (position, other)) in ambiguous.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    let read = grid.byte(*position);
                    grid.set(*position, *other);
                    corrections.push(correction(
                        span.field,
                        *position,
                        read,
                        *other,
                        CorrectionMethod::KnownStateCode,
                    ));
                }
            }
        }
    }
}

/// Finds the document number's characters and check digit, applying the long-number rule
/// (parts 5 and 6): when the check-digit position holds `<`, the number continues in the
/// optional data up to the next `<`, and the last character before it is the check digit.
fn locate_document_number(grid: &Grid, layout: &Layout) -> ProtectedField {
    let mut value: Vec<Position> = layout.document_number.positions().collect();
    let mut check = layout.document_number_check;
    if let Some(overflow) = layout.document_number_overflow
        && grid.byte(check) == b'<'
    {
        let continuation: Vec<Position> = overflow
            .positions()
            .take_while(|&p| grid.byte(p) != b'<')
            .collect();
        if let Some((&last, rest)) = continuation.split_last() {
            value.extend_from_slice(rest);
            check = last;
        }
    }
    ProtectedField {
        field: MrzField::DocumentNumber,
        value,
        check,
        filler_check_allowed: false,
    }
}

/// Optional data 1, minus any long-document-number continuation and the `<` ending it.
fn optional_data_after_number(grid: &Grid, layout: &Layout, number: &ProtectedField) -> String {
    let mut span = layout.optional_data_1;
    if number.check != layout.document_number_check
        && number.check.line == span.line
        && (span.start..span.end).contains(&number.check.column)
    {
        span.start = (number.check.column + 2).min(span.end);
    }
    grid.text(span).trim_end_matches('<').to_owned()
}

fn correct_by_check_digit_search(
    grid: &mut Grid,
    protected: &[ProtectedField],
    layout: &Layout,
    corrections: &mut Vec<Correction>,
) {
    // Without a composite, a check digit misread as another digit looks exactly like a
    // lookalike in the number, and the search would "fix" a correct number to match the
    // wrong digit (the visa specimens do this when their check digits are mutated). The
    // composite covers the field's check digit too, so it tells the two cases apart.
    let Some(composite) = &layout.composite else {
        return;
    };
    let failing: Vec<&ProtectedField> = protected.iter().filter(|f| !f.is_valid(grid)).collect();
    let ambiguous: Vec<(MrzField, Position)> = failing
        .iter()
        .flat_map(|f| f.value.iter().map(move |&p| (f.field, p)))
        .filter(|&(_, p)| check_digit_searchable_lookalike(grid.byte(p)).is_some())
        .collect();
    if ambiguous.is_empty() || ambiguous.len() > MAX_AMBIGUOUS_POSITIONS {
        return;
    }
    let apply = |grid: &mut Grid, mask: u32| {
        for (bit, &(_, position)) in ambiguous.iter().enumerate() {
            if mask & (1 << bit) != 0
                && let Some(swapped) = check_digit_searchable_lookalike(grid.byte(position))
            {
                grid.set(position, swapped);
            }
        }
    };
    let mut solution = None;
    // Mask 0 is the text as read, which already failed.
    for mask in 1..(1_u32 << ambiguous.len()) {
        let mut candidate = grid.clone();
        apply(&mut candidate, mask);
        let checks_pass =
            failing.iter().all(|f| f.is_valid(&candidate)) && composite.is_valid(&candidate);
        if checks_pass {
            if solution.is_some() {
                return;
            }
            solution = Some(mask);
        }
    }
    let Some(mask) = solution else {
        return;
    };
    let before = grid.clone();
    apply(grid, mask);
    for &(field, position) in &ambiguous {
        let (from, to) = (before.byte(position), grid.byte(position));
        if from != to {
            corrections.push(correction(
                field,
                position,
                from,
                to,
                CorrectionMethod::CheckDigitSearch,
            ));
        }
    }
}

fn correction(
    field: MrzField,
    position: Position,
    from: u8,
    to: u8,
    method: CorrectionMethod,
) -> Correction {
    Correction {
        field,
        line: position.line + 1,
        column: position.column + 1,
        from: char::from(from),
        to: char::from(to),
        method,
    }
}

fn check_problems(grid: &Grid, field: &ProtectedField) -> Vec<ReasonCode> {
    if field.is_valid(grid) {
        Vec::new()
    } else {
        vec![ReasonCode::CheckDigitMismatch]
    }
}

fn read_date(
    grid: &Grid,
    span: Span,
    check: Position,
    role: DateRole,
    today: Date,
) -> (MrzDate, Vec<ReasonCode>) {
    let (date, date_problem) = parse_mrz_date(&grid.text(span), role, today);
    let protected = ProtectedField {
        field: span.field,
        value: span.positions().collect(),
        check,
        filler_check_allowed: false,
    };
    let mut problems: Vec<ReasonCode> = date_problem.into_iter().collect();
    problems.extend(check_problems(grid, &protected));
    (date, problems)
}

fn document_code_problems(code: &str) -> Vec<ReasonCode> {
    let bytes = code.as_bytes();
    let first_ok = bytes.first().is_some_and(u8::is_ascii_uppercase);
    let second_ok = bytes
        .get(1)
        .is_some_and(|&b| b.is_ascii_uppercase() || b == b'<');
    if first_ok && second_ok {
        Vec::new()
    } else {
        vec![ReasonCode::InvalidDocumentCode]
    }
}

fn state_problems(state: &StateCode) -> Vec<ReasonCode> {
    if state.is_known() {
        Vec::new()
    } else {
        vec![ReasonCode::UnknownCountry]
    }
}

fn name_problems(field: &str, names: &HolderNames) -> Vec<ReasonCode> {
    let mut problems = Vec::new();
    if field.bytes().any(|b| b.is_ascii_digit()) {
        problems.push(ReasonCode::InvalidCharacter);
    }
    if names.primary.is_empty() {
        problems.push(ReasonCode::MissingValue);
    }
    problems
}
