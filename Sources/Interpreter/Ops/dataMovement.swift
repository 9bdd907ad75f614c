import IR

extension Ops {
    static let dataMovement: [OpEntry] = []
}
