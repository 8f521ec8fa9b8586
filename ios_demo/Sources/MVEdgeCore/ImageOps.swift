import Foundation

/// An 8-bit RGB picture: `rgb` holds width * height * 3 bytes, row by row (HWC).
public struct RGBImage: Equatable {
    public let width: Int
    public let height: Int
    public var rgb: [UInt8]

    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(width > 0 && height > 0, "image size must be positive")
        precondition(rgb.count == width * height * 3, "expected \(width * height * 3) bytes, got \(rgb.count)")
        self.width = width
        self.height = height
        self.rgb = rgb
    }

    @inline(__always) public func at(_ x: Int, _ y: Int, _ c: Int) -> Int { Int(rgb[(y * width + x) * 3 + c]) }

    /// From RGBA bytes (non-premultiplied); translucent pixels are composited onto white, as
    /// mvedge's image loader does.
    public static func fromRGBA(width: Int, height: Int, rgba: [UInt8]) -> RGBImage {
        precondition(rgba.count == width * height * 4, "expected \(width * height * 4) bytes")
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let a = Int(rgba[i * 4 + 3])
            for c in 0..<3 {
                let v = Int(rgba[i * 4 + c])
                out[i * 3 + c] = UInt8(a == 255 ? v : (v * a + 255 * (255 - a) + 127) / 255)
            }
        }
        return RGBImage(width: width, height: height, rgb: out)
    }
}

/// Resize, crop and framing exactly as the app's Android twin and mvedge's Python preprocessing
/// (Pillow): separable bilinear (support 1) / bicubic (a = -0.5, support 2) filters widened by the
/// scale when shrinking, coefficients in 22-bit fixed point, one pass per axis in Pillow's order
/// (vertical first when the height shrinks by more than twice as many pixels as the width), each
/// rounded and clipped to 0..255; nearest takes the pixel under each output pixel centre.
public enum ImageOps {
    static let precisionBits = 22

    static func filter(_ name: String, _ x0: Double) -> Double {
        let x = x0 < 0 ? -x0 : x0
        if name == "bilinear" { return x < 1.0 ? 1.0 - x : 0.0 }
        let a = -0.5
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
        if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0.0
    }

    struct Coefficients {
        let ksize: Int
        let bounds: [Int]
        let k: [Int]
    }

    static func coefficients(_ inSize: Int, _ outSize: Int, _ name: String) -> Coefficients {
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = scale < 1.0 ? 1.0 : scale
        let support = (name == "bilinear" ? 1.0 : 2.0) * filterScale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds = [Int](repeating: 0, count: outSize * 2)
        var k = [Int](repeating: 0, count: outSize * ksize)
        var w = [Double](repeating: 0, count: ksize)
        let unit = Double(1 << precisionBits)
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            var ww = 0.0
            let ss = 1.0 / filterScale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            for x in 0..<xmax {
                let v = filter(name, (Double(x + xmin) - center + 0.5) * ss)
                w[x] = v
                ww += v
            }
            for x in 0..<ksize {
                var v = x < xmax ? w[x] : 0.0
                if x < xmax && ww != 0.0 { v /= ww }
                k[xx * ksize + x] = v < 0 ? Int(-0.5 + v * unit) : Int(0.5 + v * unit)
            }
            bounds[xx * 2] = xmin
            bounds[xx * 2 + 1] = xmax
        }
        return Coefficients(ksize: ksize, bounds: bounds, k: k)
    }

    @inline(__always) static func clip8(_ v: Int) -> UInt8 {
        let s = v >> precisionBits
        return UInt8(s < 0 ? 0 : (s > 255 ? 255 : s))
    }

    static func horizontal(_ src: RGBImage, _ outWidth: Int, _ c: Coefficients) -> RGBImage {
        var out = [UInt8](repeating: 0, count: outWidth * src.height * 3)
        for y in 0..<src.height {
            for xx in 0..<outWidth {
                let xmin = c.bounds[xx * 2], count = c.bounds[xx * 2 + 1]
                for ch in 0..<3 {
                    var ss = 1 << (precisionBits - 1)
                    for x in 0..<count { ss += src.at(x + xmin, y, ch) * c.k[xx * c.ksize + x] }
                    out[(y * outWidth + xx) * 3 + ch] = clip8(ss)
                }
            }
        }
        return RGBImage(width: outWidth, height: src.height, rgb: out)
    }

    static func vertical(_ src: RGBImage, _ outHeight: Int, _ c: Coefficients) -> RGBImage {
        var out = [UInt8](repeating: 0, count: src.width * outHeight * 3)
        for yy in 0..<outHeight {
            let ymin = c.bounds[yy * 2], count = c.bounds[yy * 2 + 1]
            for x in 0..<src.width {
                for ch in 0..<3 {
                    var ss = 1 << (precisionBits - 1)
                    for y in 0..<count { ss += src.at(x, y + ymin, ch) * c.k[yy * c.ksize + y] }
                    out[(yy * src.width + x) * 3 + ch] = clip8(ss)
                }
            }
        }
        return RGBImage(width: src.width, height: outHeight, rgb: out)
    }

    static func nearest(_ src: RGBImage, _ outWidth: Int, _ outHeight: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        let ax = Double(src.width) / Double(outWidth), ay = Double(src.height) / Double(outHeight)
        var xin = [Int](repeating: 0, count: outWidth)
        var xo = ax * 0.5
        for x in 0..<outWidth {
            xin[x] = min(xo < 0 ? -1 : Int(xo), src.width - 1)
            xo += ax
        }
        var yo = ay * 0.5
        for y in 0..<outHeight {
            let yi = min(yo < 0 ? -1 : Int(yo), src.height - 1)
            for x in 0..<outWidth {
                for ch in 0..<3 { out[(y * outWidth + x) * 3 + ch] = src.rgb[(yi * src.width + xin[x]) * 3 + ch] }
            }
            yo += ay
        }
        return RGBImage(width: outWidth, height: outHeight, rgb: out)
    }

    /// Resize with "bilinear", "bicubic" or "nearest", as Pillow does.
    public static func resize(_ src: RGBImage, width outWidth: Int, height outHeight: Int, filter name: String) -> RGBImage {
        precondition(outWidth > 0 && outHeight > 0, "resize target must be positive")
        if outWidth == src.width && outHeight == src.height { return src }
        if name == "nearest" { return nearest(src, outWidth, outHeight) }
        var image = src
        let shrinkY = src.height - outHeight
        let verticalFirst = shrinkY > 0 && shrinkY > (src.width - outWidth) * 2
        if verticalFirst && outHeight != src.height { image = vertical(image, outHeight, coefficients(src.height, outHeight, name)) }
        if outWidth != src.width { image = horizontal(image, outWidth, coefficients(src.width, outWidth, name)) }
        if !verticalFirst && outHeight != src.height { image = vertical(image, outHeight, coefficients(src.height, outHeight, name)) }
        return image
    }

    /// Size before the centre crop: "squash" -> both sides floor(S / crop_pct); "center" -> the shorter
    /// side to it, the longer int(side * long / short) (aspect kept, torchvision's Resize).
    public static func resizedSize(width: Int, height: Int, _ pre: Preprocessing) -> (Int, Int) {
        let side = pre.resizeSize
        precondition(side >= 1, "input_size with crop_pct gives an empty resize")
        if pre.cropMode == "squash" { return (side, side) }
        if width <= height { return (side, max(1, Int(Double(side) * Double(height) / Double(width)))) }
        return (max(1, Int(Double(side) * Double(width) / Double(height))), side)
    }

    /// Centre crop with torchvision's offsets round((side - size) / 2), halves to even; black padding first.
    public static func centerCrop(_ src: RGBImage, size: Int) -> RGBImage {
        var image = src
        if src.width < size || src.height < size {
            let padW = max(size - src.width, 0), padH = max(size - src.height, 0)
            let w = src.width + padW, h = src.height + padH
            var out = [UInt8](repeating: 0, count: w * h * 3)
            for y in 0..<src.height {
                let from = y * src.width * 3, to = ((y + padH / 2) * w + padW / 2) * 3
                out.replaceSubrange(to..<(to + src.width * 3), with: src.rgb[from..<(from + src.width * 3)])
            }
            image = RGBImage(width: w, height: h, rgb: out)
        }
        let top = Int((Double(image.height - size) / 2.0).rounded(.toNearestOrEven))
        let left = Int((Double(image.width - size) / 2.0).rounded(.toNearestOrEven))
        var out = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            let from = ((y + top) * image.width + left) * 3
            out.replaceSubrange((y * size * 3)..<((y + 1) * size * 3), with: image.rgb[from..<(from + size * 3)])
        }
        return RGBImage(width: size, height: size, rgb: out)
    }

    /// A drawing (dark ink on white) cropped to its ink with a `margin` fraction around it, centred on a
    /// white square: the framing of the digits the embedded model learned from.
    public static func fitInk(_ src: RGBImage, margin: Double, threshold: Int = 128) -> RGBImage {
        var minX = src.width, minY = src.height, maxX = -1, maxY = -1
        for y in 0..<src.height {
            for x in 0..<src.width where (src.at(x, y, 0) + src.at(x, y, 1) + src.at(x, y, 2)) / 3 < threshold {
                minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
            }
        }
        if maxX < 0 { return src }
        let inkW = maxX - minX + 1, inkH = maxY - minY + 1
        let longest = max(inkW, inkH)
        let side = longest + 2 * Int((Double(longest) * margin).rounded(.up))
        var out = [UInt8](repeating: 255, count: side * side * 3)
        let offX = (side - inkW) / 2, offY = (side - inkH) / 2
        for y in 0..<inkH {
            let from = ((y + minY) * src.width + minX) * 3, to = ((y + offY) * side + offX) * 3
            out.replaceSubrange(to..<(to + inkW * 3), with: src.rgb[from..<(from + inkW * 3)])
        }
        return RGBImage(width: side, height: side, rgb: out)
    }
}
