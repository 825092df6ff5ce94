//! Geography as data: the carrier's home regions, region centroids, where each store is, and
//! the speed no traveller exceeds. Decides two things about a sighting of a subscriber (a
//! network event carrying a region, or a verification at a store):
//! - **unusual region**: not a home region, and the subscriber was not seen there during the
//!   look-back window before a settling period (so a burst of events cannot vouch for itself);
//! - **impossible travel**: the great-circle distance from the previous sighting's region,
//!   over the time between them, is faster than `max_travel_kmh` (both regions need a centroid;
//!   sightings in the same region, or under `min_distance_km` apart, never count).
//!
//! Region codes are the network's or the carrier's: ISO 3166-1 alpha-2 countries (`MU`) or
//! ISO 3166-2 subdivisions (`MU-PL`), compared case-insensitively. A subdivision belongs to its
//! country: `MU-PL` is home when `MU` is, and uses `MU`'s centroid unless it has its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::RiskError;

/// `[risk.geography]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Geography {
    /// Regions where the carrier's subscribers live (never unusual). Default `["MU"]`.
    pub home_regions: Vec<String>,
    /// How far back a sighting makes a region usual for the subscriber, in days (default 30).
    pub usual_region_days: u32,
    /// Sightings this recent do not make a region usual, in minutes (default 60).
    pub settle_minutes: u32,
    /// Faster than this between two sightings is impossible travel, km/h (default 900, an
    /// airliner's cruise).
    pub max_travel_kmh: f64,
    /// Sightings closer than this never count as impossible travel, km (default 300: centroids of
    /// neighbouring regions are too coarse to judge short hops).
    pub min_distance_km: f64,
    /// Region code -> `[latitude, longitude]` of its centroid, degrees.
    pub regions: BTreeMap<String, [f64; 2]>,
    /// Store or kiosk id -> the region it stands in.
    pub stores: BTreeMap<String, String>,
}

impl Default for Geography {
    fn default() -> Self {
        let regions = [
            ("MU", [-20.25, 57.55]),
            ("RE", [-21.11, 55.53]),
            ("MG", [-18.77, 46.87]),
            ("SC", [-4.68, 55.49]),
            ("ZA", [-30.56, 22.94]),
            ("IN", [20.59, 78.96]),
            ("AE", [23.42, 53.85]),
            ("FR", [46.23, 2.21]),
            ("GB", [55.38, -3.44]),
            ("CN", [35.86, 104.20]),
        ];
        Self {
            home_regions: vec!["MU".to_owned()],
            usual_region_days: 30,
            settle_minutes: 60,
            max_travel_kmh: 900.0,
            min_distance_km: 300.0,
            regions: regions
                .into_iter()
                .map(|(code, centroid)| (code.to_owned(), centroid))
                .collect(),
            stores: BTreeMap::new(),
        }
    }
}

/// Why a move between two sightings is impossible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpossibleTravel {
    /// Great-circle distance between the regions' centroids.
    pub distance_km: f64,
    /// Time between the sightings.
    pub hours: f64,
    /// The speed it would take.
    pub required_kmh: f64,
}

impl Geography {
    /// Checks the values; called when configuration loads.
    pub fn validate(&self) -> Result<(), RiskError> {
        let invalid = |reason: String| RiskError::InvalidRule {
            rule: "geography".to_owned(),
            reason,
        };
        if !(self.max_travel_kmh > 0.0 && self.max_travel_kmh.is_finite()) {
            return Err(invalid("max_travel_kmh must be a positive speed".into()));
        }
        if !(self.min_distance_km >= 0.0 && self.min_distance_km.is_finite()) {
            return Err(invalid("min_distance_km must be 0 or more".into()));
        }
        if self.usual_region_days == 0 {
            return Err(invalid("usual_region_days must be at least 1".into()));
        }
        for (code, [latitude, longitude]) in &self.regions {
            if !(-90.0..=90.0).contains(latitude) || !(-180.0..=180.0).contains(longitude) {
                return Err(invalid(format!("region {code}: centroid out of range")));
            }
        }
        for (store, region) in &self.stores {
            if !self
                .regions
                .keys()
                .any(|code| code.eq_ignore_ascii_case(region))
            {
                return Err(invalid(format!(
                    "store {store} stands in region {region}, which has no centroid"
                )));
            }
        }
        Ok(())
    }

    /// The region a store stands in (upper case), if configured.
    pub fn store_region(&self, store_id: &str) -> Option<String> {
        self.stores.get(store_id).map(|r| r.to_ascii_uppercase())
    }

    /// Whether `region` (or the country it subdivides) is one of the carrier's home regions.
    pub fn is_home(&self, region: &str) -> bool {
        self.home_regions.iter().any(|home| {
            home.eq_ignore_ascii_case(region) || home.eq_ignore_ascii_case(country_of(region))
        })
    }

    /// The region's centroid, else its country's.
    fn centroid(&self, region: &str) -> Option<[f64; 2]> {
        let find = |wanted: &str| {
            self.regions
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(wanted))
                .map(|(_, centroid)| *centroid)
        };
        find(region).or_else(|| find(country_of(region)))
    }

    /// Whether going from `from` to `to` in `seconds` is impossible; `None` when it is possible
    /// or cannot be judged (a region without centroid).
    pub fn impossible_travel(
        &self,
        from: &str,
        to: &str,
        seconds: f64,
    ) -> Option<ImpossibleTravel> {
        if from.eq_ignore_ascii_case(to) {
            return None;
        }
        let distance_km = great_circle_km(self.centroid(from)?, self.centroid(to)?);
        if distance_km < self.min_distance_km {
            return None;
        }
        let hours = seconds.max(0.0) / 3600.0;
        let required_kmh = if hours > 0.0 {
            distance_km / hours
        } else {
            f64::INFINITY
        };
        (required_kmh > self.max_travel_kmh).then_some(ImpossibleTravel {
            distance_km,
            hours,
            required_kmh,
        })
    }
}

/// `MU` for `MU-PL` (ISO 3166-2), the code itself otherwise.
fn country_of(region: &str) -> &str {
    region
        .split_once('-')
        .map_or(region, |(country, _)| country)
}

/// Haversine distance between two `[latitude, longitude]` points, km.
pub fn great_circle_km(a: [f64; 2], b: [f64; 2]) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let [lat1, lon1] = a.map(f64::to_radians);
    let [lat2, lon2] = b.map(f64::to_radians);
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mauritius_to_france_in_an_hour_is_impossible_in_a_day_it_is_not() {
        let geography = Geography::default();
        let distance = great_circle_km(geography.regions["MU"], geography.regions["FR"]);
        assert!((9_000.0..10_000.0).contains(&distance), "{distance}");
        let travel = geography.impossible_travel("MU", "fr", 3600.0);
        assert!(travel.is_some_and(|t| t.required_kmh > 9_000.0));
        assert_eq!(geography.impossible_travel("MU", "FR", 12.0 * 3600.0), None);
        assert_eq!(geography.impossible_travel("MU", "MU", 1.0), None);
        // Réunion is 220 km away: too close for centroids to judge.
        assert_eq!(geography.impossible_travel("MU", "RE", 60.0), None);
        assert_eq!(
            geography.impossible_travel("MU", "XX", 60.0),
            None,
            "no centroid"
        );
    }

    #[test]
    fn home_regions_and_store_validation() {
        let mut geography = Geography::default();
        assert!(geography.is_home("mu") && !geography.is_home("FR"));
        assert!(
            geography.is_home("MU-PL"),
            "a subdivision of a home country"
        );
        assert!(
            geography
                .impossible_travel("MU-PL", "FR-75", 3600.0)
                .is_some()
        );
        geography.stores.insert("kiosk-1".into(), "mu".into());
        assert!(geography.validate().is_ok());
        assert_eq!(geography.store_region("kiosk-1").as_deref(), Some("MU"));
        geography.stores.insert("kiosk-2".into(), "ZZ".into());
        assert!(geography.validate().is_err());
    }
}
