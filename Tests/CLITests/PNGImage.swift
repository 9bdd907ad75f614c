import CZlib
import Foundation

/// A decoded 8-bit RGB or RGBA PNG (what Chromium's screenshots are), enough to tell a
/// rendered page from a blank one.
struct PNGImage {
    var width: Int
    var height: Int
    /// RGBA per pixel.
    var pixels: [UInt32]

    struct DecodeError: Error, CustomStringConvertible { var description: String }

    init(data: Data) throws {
        let b = [UInt8](data)
        guard b.count > 8, b[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw DecodeError(description: "not a PNG")
        }
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        var pos = 8, idat: [UInt8] = [], w = 0, h = 0, depth = 0, color = 0, interlace = 0
        while pos + 8 <= b.count {
            let len = be32(pos), type = String(decoding: b[(pos + 4)..<(pos + 8)], as: UTF8.self)
            let body = (pos + 8)..<(pos + 8 + len)
            guard body.upperBound <= b.count else { throw DecodeError(description: "truncated chunk \(type)") }
            switch type {
            case "IHDR": (w, h, depth, color, interlace) = (be32(body.lowerBound), be32(body.lowerBound + 4), Int(b[body.lowerBound + 8]),
                                                           Int(b[body.lowerBound + 9]), Int(b[body.lowerBound + 12]))
            case "IDAT": idat += b[body]
            default: break
            }
            pos = body.upperBound + 4
        }
        guard depth == 8, color == 2 || color == 6, interlace == 0, w > 0, h > 0 else {
            throw DecodeError(description: "unsupported PNG: depth \(depth), colour type \(color), interlace \(interlace)")
        }
        let bpp = color == 6 ? 4 : 3, stride = w * bpp
        var raw = [UInt8](repeating: 0, count: h * (stride + 1))
        var rawLen = uLongf(raw.count)
        let rc = raw.withUnsafeMutableBufferPointer { r in
            idat.withUnsafeBufferPointer { uncompress(r.baseAddress, &rawLen, $0.baseAddress, uLong($0.count)) }
        }
        guard rc == Z_OK, Int(rawLen) == raw.count else { throw DecodeError(description: "zlib error \(rc)") }
        // Undo the per-row filters (PNG spec section 9.2).
        var img = [UInt8](repeating: 0, count: h * stride)
        for y in 0..<h {
            let f = raw[y * (stride + 1)], src = y * (stride + 1) + 1, dst = y * stride
            for x in 0..<stride {
                let a = x >= bpp ? Int(img[dst + x - bpp]) : 0
                let up = y > 0 ? Int(img[dst - stride + x]) : 0
                let c = (x >= bpp && y > 0) ? Int(img[dst - stride + x - bpp]) : 0
                let v = Int(raw[src + x])
                let pred: Int
                switch f {
                case 0: pred = 0
                case 1: pred = a
                case 2: pred = up
                case 3: pred = (a + up) / 2
                case 4:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    pred = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
                default: throw DecodeError(description: "bad filter \(f) on row \(y)")
                }
                img[dst + x] = UInt8((v + pred) & 0xFF)
            }
        }
        width = w
        height = h
        pixels = (0..<(w * h)).map { i in
            let p = i * bpp
            return UInt32(img[p]) << 24 | UInt32(img[p + 1]) << 16 | UInt32(img[p + 2]) << 8 | (bpp == 4 ? UInt32(img[p + 3]) : 0xFF)
        }
    }
}
