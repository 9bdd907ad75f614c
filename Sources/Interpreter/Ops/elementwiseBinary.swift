import IR

extension Ops {
    static let elementwiseBinary: [OpEntry] = []
}
