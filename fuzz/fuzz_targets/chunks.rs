// Shared by every target: the fuzzer's bytes are split into a chunking plan
// (the first byte seeds chunk lengths) and a stream, so each run also explores
// where reads end.

/// Splits `data` into (stream, chunk lengths).
pub fn plan(data: &[u8]) -> (&[u8], Vec<usize>) {
    let Some((&seed, rest)) = data.split_first() else { return (&[], Vec::new()) };
    let mut lens = Vec::new();
    let mut state = u32::from(seed) | 1;
    let mut total = 0;
    while total < rest.len() {
        // xorshift: cheap, deterministic chunk lengths of 1..=64 bytes.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (state % 64 + 1) as usize;
        lens.push(len);
        total += len;
    }
    (rest, lens)
}
