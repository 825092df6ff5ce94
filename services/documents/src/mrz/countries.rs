//! Issuing-state and nationality codes: ISO 3166-1 alpha-3 plus the ICAO 9303 part 3 specials.
//!
//! Both lists are static sorted arrays searched with binary search (tests keep them sorted).
//! MRZ codes are three characters padded with `<`; [`classify_state_code`] takes the code with
//! its fillers already removed, which is how Germany's `D<<` becomes `D`.

use serde::Serialize;

/// Where a state code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateCodeKind {
    /// An ISO 3166-1 alpha-3 country code.
    Iso3166,
    /// A code ICAO 9303 adds: Germany's `D`, British nationality classes, UN, stateless,
    /// refugees, other organisations and the specimen state Utopia.
    IcaoSpecial,
}

/// ISO 3166-1 alpha-3 codes (249 officially assigned), sorted.
pub const ISO_3166_ALPHA3: [&str; 249] = [
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF",
    "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS",
    "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA", "CAF",
    "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM", "CPV",
    "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "DEU", "DJI", "DMA", "DNK", "DOM", "DZA",
    "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "FIN", "FJI", "FLK", "FRA", "FRO", "FSM",
    "GAB", "GBR", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD",
    "GRL", "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN",
    "IND", "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ",
    "KEN", "KGZ", "KHM", "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE",
    "LKA", "LSO", "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX",
    "MHL", "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS",
    "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL",
    "NRU", "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK",
    "PRT", "PRY", "PSE", "PYF", "QAT", "REU", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP",
    "SGS", "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR",
    "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL",
    "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA", "UKR", "UMI", "URY",
    "USA", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM", "YEM", "ZAF",
    "ZMB", "ZWE",
];

/// Codes ICAO 9303 part 3 allows besides ISO 3166-1, sorted.
pub const ICAO_SPECIAL_CODES: [&str; 22] = [
    "D",   // Germany (written D<< in the MRZ)
    "EUE", // European Union
    "GBD", // British Overseas Territories citizen
    "GBN", // British National (Overseas)
    "GBO", // British Overseas citizen
    "GBP", // British protected person
    "GBS", // British subject
    "RKS", // Kosovo
    "UNA", // specialised agency of the United Nations
    "UNK", // resident of Kosovo (UN interim administration)
    "UNO", // United Nations Organization
    "UTO", // Utopia, the ICAO specimen state
    "XBT", // Bank for International Settlements
    "XCC", // Caribbean Community
    "XES", // Organisation of Eastern Caribbean States
    "XIM", // Sovereign Military Order of Malta
    "XOM", // Sovereign Military Order of Malta (older code)
    "XPO", // Interpol
    "XXA", // stateless person
    "XXB", // refugee (1951 Convention)
    "XXC", // refugee (other)
    "XXX", // unspecified nationality
];

/// What kind of code `code` (fillers removed, e.g. `D` not `D<<`) is, or `None` if unknown.
pub fn classify_state_code(code: &str) -> Option<StateCodeKind> {
    if ISO_3166_ALPHA3.binary_search(&code).is_ok() {
        Some(StateCodeKind::Iso3166)
    } else if ICAO_SPECIAL_CODES.binary_search(&code).is_ok() {
        Some(StateCodeKind::IcaoSpecial)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_sorted_unique(codes: &[&str]) {
        for pair in codes.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{} must sort before {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn lists_are_sorted_unique_and_well_formed() {
        assert_sorted_unique(&ISO_3166_ALPHA3);
        assert_sorted_unique(&ICAO_SPECIAL_CODES);
        assert!(
            ISO_3166_ALPHA3
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        assert!(
            ICAO_SPECIAL_CODES
                .iter()
                .all(|c| ISO_3166_ALPHA3.binary_search(c).is_err())
        );
    }

    #[test]
    fn classifies_iso_special_and_unknown() {
        assert_eq!(classify_state_code("FRA"), Some(StateCodeKind::Iso3166));
        assert_eq!(classify_state_code("ZWE"), Some(StateCodeKind::Iso3166));
        assert_eq!(classify_state_code("ABW"), Some(StateCodeKind::Iso3166));
        assert_eq!(classify_state_code("D"), Some(StateCodeKind::IcaoSpecial));
        assert_eq!(classify_state_code("UTO"), Some(StateCodeKind::IcaoSpecial));
        assert_eq!(classify_state_code("XXA"), Some(StateCodeKind::IcaoSpecial));
        assert_eq!(classify_state_code("QQQ"), None);
        assert_eq!(classify_state_code("DE"), None);
        assert_eq!(classify_state_code(""), None);
    }
}
