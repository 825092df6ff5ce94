//! Activation-code QR codes decode back to the exact LPA string (independent decoder: rqrr).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use simgate_tokens::ActivationCode;

fn decode_qr(png: &[u8]) -> Vec<String> {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width() as usize,
        image.height() as usize,
        |x, y| image.get_pixel(x as u32, y as u32).0[0],
    );
    prepared
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().unwrap().1)
        .collect()
}

#[test]
fn qr_png_decodes_to_the_lpa_string() {
    let code = ActivationCode::new("smdp.carrier.example", "QR-G-5C-KR-1PAM7T4").unwrap();
    let png = code.qr_png().unwrap();
    assert_eq!(
        decode_qr(&png),
        ["LPA:1$smdp.carrier.example$QR-G-5C-KR-1PAM7T4"]
    );
    assert_eq!(ActivationCode::parse(&decode_qr(&png)[0]).unwrap(), code);
}

#[test]
fn qr_png_of_a_maximum_length_matching_id_decodes() {
    let matching_id = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789".repeat(7)[..255].to_owned();
    let code = ActivationCode::new("rsp.prod.smdp.example.com", &matching_id).unwrap();
    let png = code.qr_png().unwrap();
    assert_eq!(decode_qr(&png), [code.to_lpa_string()]);
}

#[test]
fn qr_png_has_a_quiet_zone_and_whole_modules() {
    let code = ActivationCode::new("smdp.carrier.example", "ABC-123").unwrap();
    let image = image::load_from_memory(&code.qr_png().unwrap())
        .unwrap()
        .to_luma8();
    assert_eq!(image.width(), image.height());
    assert_eq!(image.width() % ActivationCode::QR_MODULE_PIXELS, 0);
    let quiet = ActivationCode::QR_QUIET_ZONE_MODULES * ActivationCode::QR_MODULE_PIXELS;
    for i in 0..image.width() {
        for border in 0..quiet {
            assert_eq!(image.get_pixel(i, border).0[0], 255);
            assert_eq!(image.get_pixel(border, i).0[0], 255);
        }
    }
    // The top-left finder pattern starts right after the quiet zone.
    assert_eq!(image.get_pixel(quiet, quiet).0[0], 0);
}
