import IR

extension Ops {
    static let quantization: [OpEntry] = []
}
