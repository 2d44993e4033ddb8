//! C's `sscanf` integer conversions, as Asterisk's action handlers use them.

/// C `sscanf(s, "%30d", &i) == 1` (or `%30i` when `any_base`): optional blanks, sign, digits.
/// Returns the value (truncated to `int` like glibc) or `None` when nothing converts.
pub(crate) fn scan_int(s: &[u8], any_base: bool) -> Option<i32> {
    let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let rest = s.get(start..).unwrap_or_default();
    // The field width (30) counts from the first non-blank byte.
    let mut rest = rest.get(..rest.len().min(30)).unwrap_or(rest);
    let mut negative = false;
    if let [sign @ (b'+' | b'-'), tail @ ..] = rest {
        negative = *sign == b'-';
        rest = tail;
    }
    let mut radix = 10u32;
    if any_base {
        if let [b'0', x, tail @ ..] = rest
            && (*x == b'x' || *x == b'X')
            && tail.first().is_some_and(u8::is_ascii_hexdigit)
        {
            radix = 16;
            rest = tail;
        } else if rest.first() == Some(&b'0') {
            radix = 8;
        }
    }
    let mut value: i64 = 0;
    let mut digits = 0;
    for &b in rest {
        let Some(d) = char::from(b).to_digit(radix) else { break };
        value = value.saturating_mul(i64::from(radix)).saturating_add(i64::from(d));
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    let value = if negative { value.saturating_neg() } else { value };
    // glibc stores the `long` result into the `int` (truncation).
    Some(value as i32)
}
