//! Whether another SMS may be sent now: resend cooldown and rolling-hour limits.
//!
//! SMS pumping fraud makes a verification service send many messages to premium numbers, so
//! sends are limited per destination MSISDN (cooldown between two sends and a cap per rolling
//! hour) and per API client (a cap per rolling hour). [`decide_sms_send`] is pure: the caller
//! loads the [`SendHistory`] (send timestamps from the last hour) and gets either permission
//! or [`OtpError::RateLimited`] naming the limit and how long to wait. When several limits are
//! hit, the longest wait is reported, so retrying after it passes all of them (absent other sends).

use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::error::OtpError;
use crate::sms_code::SmsCodeSettings;

/// The window of the hourly limits.
const HOUR: Duration = Duration::hours(1);

/// Which send limit refused a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendLimit {
    /// Too soon after the previous send to the same MSISDN.
    Cooldown,
    /// Too many sends to this MSISDN in the last hour.
    MsisdnPerHour,
    /// Too many sends by this API client in the last hour.
    ClientPerHour,
}

impl SendLimit {
    /// A stable machine-readable name of the limit.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cooldown => "resend_cooldown",
            Self::MsisdnPerHour => "msisdn_per_hour",
            Self::ClientPerHour => "client_per_hour",
        }
    }
}

impl fmt::Display for SendLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Past sends the caller loaded for one decision; older than an hour may be included or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendHistory {
    /// When codes were sent to the destination MSISDN, by any client.
    pub msisdn_sends: Vec<OffsetDateTime>,
    /// When codes were sent on behalf of the requesting API client, to any MSISDN.
    pub client_sends: Vec<OffsetDateTime>,
}

/// Allows a send now, or says which limit refuses it and for how long.
pub fn decide_sms_send(
    history: &SendHistory,
    settings: &SmsCodeSettings,
    now: OffsetDateTime,
) -> Result<(), OtpError> {
    let cooldown_wait = history
        .msisdn_sends
        .iter()
        .max()
        .map(|last| *last + settings.resend_cooldown() - now)
        .filter(|wait| wait.is_positive())
        .map(|wait| (SendLimit::Cooldown, wait));
    let msisdn_wait = hourly_wait(
        &history.msisdn_sends,
        settings.max_sends_per_msisdn_per_hour(),
        now,
    )
    .map(|wait| (SendLimit::MsisdnPerHour, wait));
    let client_wait = hourly_wait(
        &history.client_sends,
        settings.max_sends_per_client_per_hour(),
        now,
    )
    .map(|wait| (SendLimit::ClientPerHour, wait));

    match [cooldown_wait, msisdn_wait, client_wait]
        .into_iter()
        .flatten()
        .max_by_key(|(_, wait)| *wait)
    {
        Some((limit, retry_after)) => Err(OtpError::RateLimited { limit, retry_after }),
        None => Ok(()),
    }
}

/// How long until fewer than `max` of `sends` fall in the hour before now, if they do not already.
fn hourly_wait(sends: &[OffsetDateTime], max: u32, now: OffsetDateTime) -> Option<Duration> {
    // A send at `t` counts while `now - 1h < t`; sends stamped in the future (clock skew between
    // replicas) count too, which errs on the side of refusing.
    let mut in_window: Vec<OffsetDateTime> =
        sends.iter().copied().filter(|t| *t > now - HOUR).collect();
    // Settings never allow 0; treating it as 1 keeps the arithmetic below safe regardless.
    let max = usize::try_from(max).unwrap_or(usize::MAX).max(1);
    if in_window.len() < max {
        return None;
    }
    in_window.sort_unstable();
    // Once the oldest `len - max + 1` sends have left the window, one more send fits.
    let must_leave = in_window.get(in_window.len() - max)?;
    Some(*must_leave + HOUR - now).filter(|wait| wait.is_positive())
}
