//! QR codes for MFA enrolment: drawn in the terminal with half blocks, and as a PNG
//! (AWS's `QRCodePNG`) written with a tiny encoder (stored deflate blocks), so no image
//! library is needed.

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
    let mut raw = Vec::with_capacity((row_bytes + 1) * px);
    for y in 0..px {
        raw.push(0u8); // filter: none
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
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]); // depth 1, greyscale, deflate, no filter, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(b) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = b.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(b);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_png_shape() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        let p = png(b"otpauth://totp/x?secret=AAAA").unwrap();
        assert!(p.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(p.ends_with(&[0xae, 0x42, 0x60, 0x82]));
        let t = terminal(b"hello").unwrap();
        assert!(t.lines().count() > 10);
    }
}
