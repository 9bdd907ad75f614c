import IR

extension Ops {
    static let shapeOps: [OpEntry] = []
}
