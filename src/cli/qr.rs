//! QR codes for MFA enrolment: drawn in the terminal with half blocks, and as a PNG
//! (AWS's `QRCodePNG`) encoded by the `png` crate.

use qrcode::{Color, QrCode};

const QUIET: usize = 4;
const SCALE: usize = 4;

fn modules(data: &[u8]) -> Result<(usize, Vec<bool>), String> {
    let code = QrCode::new(data).map_err(|e| format!("QR code: {e}"))?;
    let w = code.width();
    Ok((
        w,
        code.to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    ))
}

/// The code drawn with `▀▄█` for light modules (for dark terminals), two rows per line.
pub fn terminal(data: &[u8]) -> Result<String, String> {
    let (w, dark) = modules(data)?;
    let full = w + 2 * QUIET;
    let is_dark = |x: usize, y: usize| -> bool {
        if x < QUIET || y < QUIET || x >= w + QUIET || y >= w + QUIET {
            return false;
        }
        dark.get((y - QUIET) * w + (x - QUIET))
            .copied()
            .unwrap_or(false)
    };
    let mut out = String::new();
    for y in (0..full).step_by(2) {
        for x in 0..full {
            let top = !is_dark(x, y);
            let bottom = y + 1 < full && !is_dark(x, y + 1);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

/// A 1-bit greyscale PNG of the code.
pub fn png(data: &[u8]) -> Result<Vec<u8>, String> {
    let (w, dark) = modules(data)?;
    let px = (w + 2 * QUIET) * SCALE;
    let row_bytes = px.div_ceil(8);
    let mut raw = Vec::with_capacity(row_bytes * px);
    for y in 0..px {
        let my = y / SCALE;
        let mut row = vec![0xffu8; row_bytes];
        for x in 0..px {
            let mx = x / SCALE;
            let inside = mx >= QUIET && my >= QUIET && mx < w + QUIET && my < w + QUIET;
            if inside
                && dark
                    .get((my - QUIET) * w + (mx - QUIET))
                    .copied()
                    .unwrap_or(false)
            {
                row[x / 8] &= !(0x80 >> (x % 8));
            }
        }
        raw.extend_from_slice(&row);
    }
    let side = u32::try_from(px).map_err(|_| "QR code too large".to_string())?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("QR code PNG: {e}"))?;
    writer
        .write_image_data(&raw)
        .map_err(|e| format!("QR code PNG: {e}"))?;
    writer.finish().map_err(|e| format!("QR code PNG: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_decodes_to_the_code() {
        let data = b"otpauth://totp/x?secret=AAAA";
        let p = png(data).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(p))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (w, dark) = modules(data).unwrap();
        let side = (w + 2 * QUIET) * SCALE;
        assert_eq!((info.width as usize, info.height as usize), (side, side));
        let pixel_dark =
            |x: usize, y: usize| buf[y * info.line_size + x / 8] & (0x80 >> (x % 8)) == 0;
        // The quiet zone is light; every module maps to a SCALE x SCALE block.
        assert!(!pixel_dark(0, 0));
        for (i, &d) in dark.iter().enumerate() {
            let (mx, my) = (i % w + QUIET, i / w + QUIET);
            assert_eq!(
                pixel_dark(mx * SCALE + 1, my * SCALE + 2),
                d,
                "module {mx},{my}"
            );
        }
        let t = terminal(b"hello").unwrap();
        assert!(t.lines().count() > 10);
    }
}
