import IR

extension Ops {
    static let pooling: [OpEntry] = []
}
