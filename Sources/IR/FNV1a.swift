/// FNV-1a, 64-bit: a stable hash for content digests and cache keys (the same
/// value on every run and machine, unlike `Hasher`).
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(bytes: some Sequence<UInt8>) {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    }

    /// Adds a string and a terminator, so ("ab", "c") and ("a", "bc") differ.
    public mutating func add(_ s: String) { add(bytes: Array(s.utf8) + [0]) }
}
