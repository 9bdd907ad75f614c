import IR

extension Ops {
    static let linear: [OpEntry] = []
}
