import IR

extension Ops {
    static let reduction: [OpEntry] = []
}
