import IR

extension Ops {
    static let recurrent: [OpEntry] = []
}
