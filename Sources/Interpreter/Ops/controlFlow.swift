import IR

extension Ops {
    static let controlFlow: [OpEntry] = []
}
