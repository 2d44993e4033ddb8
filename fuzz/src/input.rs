//! A tiny reader that turns fuzzer bytes into structured choices. Every read succeeds: past the
//! end it yields zeros and empty slices, so any input is a valid program.

/// Separator of the token-based formats (`roundtrip`, `perm`, `acl`, `filter`): a byte that
/// never appears in UTF-8 text, so seeds stay readable.
pub const SEP: u8 = 0xFF;

/// Cursor over the fuzzer's bytes.
#[derive(Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    /// True once every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A length-prefixed (u16) byte string.
    pub fn blob(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.take(n)
    }

    /// A short length-prefixed (u8) byte string.
    pub fn short(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        self.take(n)
    }

    /// The bytes up to the next [`SEP`] (or the end), which is consumed.
    pub fn token(&mut self) -> &'a [u8] {
        match self.data.iter().position(|&b| b == SEP) {
            Some(i) => {
                let t = &self.data[..i];
                self.data = &self.data[i + 1..];
                t
            }
            None => std::mem::take(&mut self.data),
        }
    }

    /// One of `items`, chosen by the next byte.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.byte()) % items.len()]
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Splits `data` into [`SEP`]-separated tokens.
pub fn tokens(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == SEP).collect()
}
