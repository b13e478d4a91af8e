//! The size of a PNG or JPEG, read from its header alone: PNG's IHDR chunk, JPEG's first
//! start-of-frame marker. Anything else at the start of the file is refused.

use super::LogoError;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

fn be16(b: &[u8]) -> u32 {
    u32::from(u16::from_be_bytes([b[0], b[1]]))
}

/// Width and height from the IHDR chunk, which must come first.
pub(super) fn png_size(bytes: &[u8]) -> Result<(u32, u32), LogoError> {
    let unreadable = LogoError::Unreadable("PNG");
    if bytes.len() < 33 || bytes[..8] != PNG_SIGNATURE {
        return Err(unreadable);
    }
    let length = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if length != 13 || &bytes[12..16] != b"IHDR" {
        return Err(unreadable);
    }
    let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    if width == 0 || height == 0 {
        return Err(unreadable);
    }
    Ok((width, height))
}

/// Width and height from the first SOFn marker, walking the markers before it.
pub(super) fn jpeg_size(bytes: &[u8]) -> Result<(u32, u32), LogoError> {
    let unreadable = LogoError::Unreadable("JPEG");
    if bytes.len() < 4 || bytes[0] != 0xff || bytes[1] != 0xd8 {
        return Err(unreadable);
    }
    let mut pos = 2;
    loop {
        // A marker: 0xFF (any number of fill bytes), then its code.
        if bytes.get(pos) != Some(&0xff) {
            return Err(unreadable);
        }
        while bytes.get(pos) == Some(&0xff) {
            pos += 1;
        }
        let code = *bytes.get(pos).ok_or(unreadable.clone())?;
        pos += 1;
        match code {
            // Markers without a length.
            0x01 | 0xd0..=0xd7 => continue,
            // End of image, or the image data, before any frame header.
            0xd9 | 0xda | 0x00 => return Err(unreadable),
            _ => {}
        }
        let segment = bytes.get(pos..pos + 2).ok_or(unreadable.clone())?;
        let length = be16(segment) as usize;
        if length < 2 {
            return Err(unreadable);
        }
        let is_frame = matches!(code, 0xc0..=0xc3 | 0xc5..=0xc7 | 0xc9..=0xcb | 0xcd..=0xcf);
        if is_frame {
            // Length (2), precision (1), height (2), width (2).
            let header = bytes.get(pos..pos + 7).ok_or(unreadable.clone())?;
            if length < 7 {
                return Err(unreadable);
            }
            let (height, width) = (be16(&header[3..5]), be16(&header[5..7]));
            if width == 0 || height == 0 {
                return Err(unreadable);
            }
            return Ok((width, height));
        }
        pos += length;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The start of a PNG of this size: signature and IHDR (enough for the header check).
    pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
        let mut b = PNG_SIGNATURE.to_vec();
        b.extend_from_slice(&13u32.to_be_bytes());
        b.extend_from_slice(b"IHDR");
        b.extend_from_slice(&width.to_be_bytes());
        b.extend_from_slice(&height.to_be_bytes());
        b.extend_from_slice(&[8, 6, 0, 0, 0]);
        b.extend_from_slice(&[0, 0, 0, 0]); // CRC (not checked)
        b.extend_from_slice(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]);
        b
    }

    /// A JPEG's markers up to its frame header: SOI, an APP0 segment, SOF0.
    pub(crate) fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut b = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10];
        b.extend_from_slice(b"JFIF\0");
        b.extend_from_slice(&[1, 1, 0, 0, 1, 0, 1, 0, 0]);
        b.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 8]);
        b.extend_from_slice(&height.to_be_bytes());
        b.extend_from_slice(&width.to_be_bytes());
        b.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        b.extend_from_slice(&[0xff, 0xd9]);
        b
    }

    #[test]
    fn png_size_comes_from_ihdr() {
        assert_eq!(png_size(&png(300, 80)), Ok((300, 80)));
        let mut bad = png(300, 80);
        bad[12..16].copy_from_slice(b"IDAT");
        assert!(png_size(&bad).is_err());
        assert!(png_size(&png(0, 80)).is_err());
        assert!(png_size(&png(300, 80)[..20]).is_err());
    }

    #[test]
    fn jpeg_size_comes_from_the_frame_header() {
        assert_eq!(jpeg_size(&jpeg(640, 200)), Ok((640, 200)));
        // Truncated before the frame, or image data first: unreadable.
        assert!(jpeg_size(&jpeg(640, 200)[..12]).is_err());
        assert!(jpeg_size(&[0xff, 0xd8, 0xff, 0xda, 0, 2]).is_err());
        assert!(jpeg_size(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]).is_err());
        assert!(jpeg_size(b"GIF89a").is_err());
    }
}
