//! Activation-token verification on untrusted token strings.
//!
//! Feeds strings to `simgate_tokens::verify_activation_token` and
//! `verify_activation_token_with_leeway` against a fixed key ring (see
//! `simgate_fuzz::token_fixture`) and against the same keys as a published JWKS. Input layout:
//! the first byte picks the mode: even, the rest is the whole token; odd, the rest is spliced
//! into a validly signed token (at an offset and over a length from the next two bytes), so the
//! fuzzer starts next to tokens that get past the shape checks. Invariants: the ring and the
//! JWKS agree on acceptance, and any accepted token carries claims this process signed (nobody
//! else holds the keys, so anything else is a forgery).

#![no_main]

use libfuzzer_sys::fuzz_target;
use simgate_fuzz::token_fixture;
use simgate_tokens::{Leeway, verify_activation_token, verify_activation_token_with_leeway};

fuzz_target!(|data: &[u8]| {
    let fixture = token_fixture();
    let token = match data {
        [mode, rest @ ..] if mode % 2 == 0 => match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        },
        [mode, offset, length, rest @ ..] => {
            let Ok(insert) = std::str::from_utf8(rest) else {
                return;
            };
            let valid = &fixture.tokens[usize::from(*mode / 2) % fixture.tokens.len()].token;
            let start = usize::from(*offset) * valid.len() / 256;
            let end = (start + usize::from(*length)).min(valid.len());
            format!("{}{insert}{}", &valid[..start], &valid[end..])
        }
        _ => return,
    };

    let by_ring = verify_activation_token(
        &token,
        &fixture.ring,
        &fixture.issuer,
        &fixture.audience,
        fixture.now,
    );
    let by_jwks = verify_activation_token_with_leeway(
        &token,
        &fixture.jwks,
        &fixture.issuer,
        &fixture.audience,
        Leeway::default(),
        fixture.now,
    );
    assert_eq!(
        by_ring.is_ok(),
        by_jwks.is_ok(),
        "key ring and JWKS disagree on {token:?}: {by_ring:?} / {by_jwks:?}"
    );
    if let Ok(claims) = by_ring {
        assert!(
            fixture.tokens.iter().any(|issued| issued.claims == claims),
            "accepted claims nobody signed: {token:?}"
        );
    }
});
