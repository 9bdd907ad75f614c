import IR

extension Ops {
    static let normalization: [OpEntry] = []
}
