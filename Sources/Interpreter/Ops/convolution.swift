import IR

extension Ops {
    static let convolution: [OpEntry] = []
}
