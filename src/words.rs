//! Numbers written out for messages in words, which are put together with
//! `[…].concat()` rather than `format!`: the formatting machinery (`Formatter`, padding,
//! integer formatting through it) is about 2.7 KB of the module, and nothing else in the
//! client needs it.

/// `n` in decimal digits.
pub fn decimal(n: u64) -> String {
    let mut digits = Vec::new();
    let mut rest = n;
    loop {
        digits.push(digit(rest % 10));
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    digits.iter().rev().collect()
}

/// `bytes` in lower-case hexadecimal, two digits each.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|byte| [digit(u64::from(byte >> 4)), digit(u64::from(byte & 15))])
        .collect()
}

/// The digit for `value`, below 16.
fn digit(value: u64) -> char {
    char::from_digit(value as u32, 16).unwrap_or('?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_format_writes_them() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            4_000,
            1_048_576,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    #[test]
    fn bytes_are_written_two_hex_digits_each() {
        let bytes = [0x00, 0x0f, 0x10, 0xa5, 0xff];
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&bytes), expected);
        assert_eq!(hex(&[]), "");
    }
}
