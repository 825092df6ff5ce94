//! Helpers shared by simgate's fuzz targets: a model-free face engine whose "network output"
//! comes from the fuzz input, and the small limits that keep each execution fast.
//!
//! The ONNX models are far too slow to run per fuzz execution (tens of milliseconds each, and
//! loading them takes seconds), so the targets replace only the network: [`TrailerFaceEngine`]
//! runs the real YuNet pre-processing ([`letterbox`]) and post-processing
//! ([`decode_yunet_outputs`]: anchor decoding, NMS, mapping back to image pixels) over raw
//! output tensors filled from bytes of the input. Everything downstream of the detector
//! (selection, the quality gate, portrait upscaling, alignment, document portrait crops) then
//! runs on detections shaped exactly like the real engine's.

use simgate_biometrics::{
    BiometricsError,
    decode::{DecodeLimits, DecodedImage},
    detect::{
        DEFAULT_SCORE_THRESHOLD, FaceDetection, YUNET_STRIDES, YunetStrideOutputs,
        decode_yunet_outputs, letterbox,
    },
    embed::FaceEmbedding,
    engine::{FaceEngine, ModelInfo},
};

/// Decode limits for fuzzing: the production code paths, with sizes small enough that one
/// execution stays in the millisecond range (a 40-megapixel default would make every valid
/// header a multi-second decode and hide everything else).
pub fn small_decode_limits() -> DecodeLimits {
    DecodeLimits {
        max_bytes: 256 * 1024,
        max_pixels: 512 * 512,
        max_dimension: 1024,
    }
}

/// Bytes per fake detection taken from the input's trailer: stride, anchor (2), score,
/// box regression (4) and landmark regressions (10).
const HIT_BYTES: usize = 18;
/// Most fake detections per image (a selfie with a second person needs two; three covers a
/// ghost image on a document as well).
const MAX_HITS: usize = 3;

/// One anchor the fake network "fires" on, read from the input.
#[derive(Debug, Clone, Copy)]
struct AnchorHit {
    stride_index: usize,
    anchor: usize,
    score: f32,
    bbox: [f32; 4],
    kps: [f32; 10],
}

/// A [`FaceEngine`] with no model: detections are the real YuNet decoding of output tensors
/// that are zero except at a few anchors chosen by the last bytes of the input.
///
/// Taking the bytes from the end of the same input (rather than a separate structured field)
/// lets plain image files serve as seeds, and lets the fuzzer couple image content with
/// detections of any geometry (off-frame landmarks, tiny or huge boxes, several faces).
#[derive(Debug, Clone)]
pub struct TrailerFaceEngine {
    hits: Vec<AnchorHit>,
    side: u32,
}

impl TrailerFaceEngine {
    /// Reads up to [`MAX_HITS`] detections from the end of `data`.
    pub fn from_trailer(data: &[u8]) -> Self {
        let side_selector = data.first().copied().unwrap_or(0);
        // The real engine letterboxes to 640; smaller sides keep the zero tensors cheap while
        // exercising the same resampling and alignment code.
        let side = [32, 64, 96, 128][usize::from(side_selector % 4)];
        let mut hits = Vec::new();
        let mut rest = data;
        while hits.len() < MAX_HITS && rest.len() >= HIT_BYTES {
            let (head, chunk) = rest.split_at(rest.len() - HIT_BYTES);
            rest = head;
            // Regressions as signed bytes / 8: up to +-16 anchor pitches, far beyond what a
            // sane network emits but always finite, as ONNX Runtime's outputs are.
            let signed = |byte: u8| f32::from(byte as i8) / 8.0;
            hits.push(AnchorHit {
                stride_index: usize::from(chunk[0]) % YUNET_STRIDES.len(),
                anchor: usize::from(u16::from_le_bytes([chunk[1], chunk[2]])),
                // Every hit is above the detection threshold, so the fuzzer does not spend its
                // time on images where nothing is found.
                score: DEFAULT_SCORE_THRESHOLD + f32::from(chunk[3]) / 255.0 * 0.1,
                bbox: std::array::from_fn(|i| signed(chunk[4 + i])),
                kps: std::array::from_fn(|i| signed(chunk[8 + i])),
            });
        }
        Self { hits, side }
    }
}

impl FaceEngine for TrailerFaceEngine {
    fn detect_faces(&self, image: &DecodedImage) -> Result<Vec<FaceDetection>, BiometricsError> {
        let input = letterbox(image.as_rgb_image(), self.side);
        let geometry = input.geometry;
        let mut tensors: Vec<[Vec<f32>; 4]> = YUNET_STRIDES
            .iter()
            .map(|&stride| {
                let anchors =
                    ((geometry.input_width / stride) * (geometry.input_height / stride)) as usize;
                [
                    vec![0.0; anchors],
                    vec![0.0; anchors],
                    vec![0.0; anchors * 4],
                    vec![0.0; anchors * 10],
                ]
            })
            .collect();
        for hit in &self.hits {
            let [cls, obj, bbox, kps] = &mut tensors[hit.stride_index];
            if cls.is_empty() {
                continue;
            }
            let anchor = hit.anchor % cls.len();
            cls[anchor] = hit.score;
            obj[anchor] = hit.score;
            bbox[anchor * 4..anchor * 4 + 4].copy_from_slice(&hit.bbox);
            kps[anchor * 10..anchor * 10 + 10].copy_from_slice(&hit.kps);
        }
        let outputs: Vec<YunetStrideOutputs<'_>> = YUNET_STRIDES
            .iter()
            .zip(&tensors)
            .map(|(&stride, [cls, obj, bbox, kps])| YunetStrideOutputs {
                stride,
                cls,
                obj,
                bbox,
                kps,
            })
            .collect();
        decode_yunet_outputs(&outputs, &geometry, DEFAULT_SCORE_THRESHOLD)
    }

    fn embed_aligned_faces(
        &self,
        _aligned: &[image::RgbImage],
    ) -> Result<Vec<FaceEmbedding>, BiometricsError> {
        // No recogniser: the targets stop before embedding (alignment is called directly).
        Err(BiometricsError::Inference(
            "the fuzzing engine has no recogniser".to_owned(),
        ))
    }

    fn model_info(&self) -> ModelInfo {
        ModelInfo {
            detector: "fuzz-trailer".to_owned(),
            recogniser: "none".to_owned(),
        }
    }
}

/// A fixed key ring and tokens it signed, for the JWT targets.
///
/// Keys come from fixed secrets so every run (and every crash reproduction) sees the same
/// ring: an Ed25519 current key and an ES256 previous key that still verifies, so both
/// algorithms' verification paths are reachable. `jti` is random per process, which is why
/// invariants compare against [`TokenFixture::tokens`] rather than against constants.
pub struct TokenFixture {
    /// The ring tokens are verified against.
    pub ring: simgate_tokens::KeyRing,
    /// The same keys as the published JWKS (the other [`simgate_tokens::VerificationKeySource`]).
    pub jwks: simgate_tokens::JwkSet,
    /// The expected issuer.
    pub issuer: simgate_tokens::Issuer,
    /// The expected audience.
    pub audience: simgate_tokens::Audience,
    /// The verification time: one minute after issue.
    pub now: time::OffsetDateTime,
    /// One valid token per key: EdDSA (current), then ES256 (previous).
    pub tokens: Vec<simgate_tokens::IssuedToken>,
}

/// The process-wide [`TokenFixture`].
pub fn token_fixture() -> &'static TokenFixture {
    static FIXTURE: std::sync::OnceLock<TokenFixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(build_token_fixture)
}

fn build_token_fixture() -> TokenFixture {
    use simgate_core::Msisdn;
    use simgate_tokens::{
        Acr, ActivationRequest, Audience, AuthMethod, Eid, Iccid, Issuer, KeyRing, MatchingId,
        PreviousKey, SigningAlgorithm, SigningKey, SubscriberKey, TokenLifetime, VerificationId,
        derive_subscriber_id, issue_activation_token,
    };
    use time::macros::datetime;

    let issued_at = datetime!(2026-03-01 12:00:00 UTC);
    let ed25519 = SigningKey::from_secret_bytes(SigningAlgorithm::EdDSA, &[7; 32], issued_at)
        .expect("a fixed Ed25519 seed");
    let p256 = SigningKey::from_secret_bytes(SigningAlgorithm::ES256, &[9; 32], issued_at)
        .expect("a fixed P-256 scalar");
    let ring = KeyRing::restore(
        ed25519.clone(),
        vec![PreviousKey {
            key: p256.clone(),
            retire_at: issued_at + time::Duration::days(1),
        }],
    )
    .expect("two distinct keys");
    let issuer = Issuer::parse("https://simgate.carrier.example").expect("issuer");
    let audience = Audience::parse("urn:carrier:provisioning").expect("audience");
    let request = ActivationRequest {
        issuer: issuer.clone(),
        audience: audience.clone(),
        lifetime: TokenLifetime::default(),
        subject: derive_subscriber_id(
            &SubscriberKey::from_bytes(&[42; 32]).expect("subscriber key"),
            &Msisdn::parse("+491701234567").expect("msisdn"),
        ),
        eid: Eid::parse("89001012012341234012345678901224").expect("eid"),
        iccid: Some(Iccid::parse("89441100123456789014").expect("iccid")),
        matching_id: Some(MatchingId::parse("QR-G-5C-KR-1PAM7T4").expect("matching id")),
        acr: Acr::parse("urn:simgate:acr:kiosk").expect("acr"),
        amr: vec![AuthMethod::Doc, AuthMethod::Face, AuthMethod::Otp],
        verification_id: VerificationId::parse("ver_01HZX3K8Q9").expect("verification id"),
    };
    let tokens = [ed25519, p256]
        .into_iter()
        .map(|key| {
            issue_activation_token(&KeyRing::new(key), &request, issued_at).expect("a token")
        })
        .collect();
    let now = issued_at + time::Duration::minutes(1);
    TokenFixture {
        jwks: ring.jwks(now),
        ring,
        issuer,
        audience,
        now,
        tokens,
    }
}
