import CoreGraphics
import CoreVideo
import Foundation
import ImageIO
import MVEdgeCore
import UIKit

/// Pictures to and from the RGB bytes the Preprocessor works on, without colour management: the
/// contract compares pixel values with mvedge's, so decoding must not convert colours.
enum ImageConversion {
    /// Decodes a PNG/JPEG file (EXIF orientation applied by UIImage when it comes from the photo library).
    static func rgb(contentsOf url: URL) throws -> RGBImage {
        guard let source = CGImageSourceCreateWithURL(url as CFURL, nil),
              let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else { throw SidecarError("cannot decode \(url.lastPathComponent)") }
        return try rgb(image)
    }

    /// RGB of a CGImage: read 8-bit RGB(A) data directly when the layout allows, else draw it into an
    /// sRGB context (same colour space: no conversion for sRGB or untagged pictures).
    static func rgb(_ image: CGImage) throws -> RGBImage {
        let w = image.width, h = image.height
        if image.bitsPerComponent == 8, image.colorSpace?.model == .rgb,
           let data = image.dataProvider?.data, let bytes = CFDataGetBytePtr(data) {
            let info = image.alphaInfo
            let bpp = image.bitsPerPixel / 8
            let order = image.bitmapInfo.intersection(.byteOrderMask)
            let plainOrder = order.rawValue == 0 || order == .byteOrder32Big
            let alphaFirst = info == .first || info == .premultipliedFirst || info == .noneSkipFirst
            let hasAlpha = info == .last || info == .first
            if plainOrder && (bpp == 3 || bpp == 4) && info != .premultipliedLast && info != .premultipliedFirst {
                var rgba = [UInt8](repeating: 255, count: w * h * 4)
                for y in 0..<h {
                    let row = bytes + y * image.bytesPerRow
                    for x in 0..<w {
                        let p = row + x * bpp
                        let base = alphaFirst && bpp == 4 ? 1 : 0
                        rgba[(y * w + x) * 4 + 0] = p[base]
                        rgba[(y * w + x) * 4 + 1] = p[base + 1]
                        rgba[(y * w + x) * 4 + 2] = p[base + 2]
                        if hasAlpha && bpp == 4 { rgba[(y * w + x) * 4 + 3] = alphaFirst ? p[0] : p[3] }
                    }
                }
                return RGBImage.fromRGBA(width: w, height: h, rgba: rgba)
            }
        }
        var rgba = [UInt8](repeating: 255, count: w * h * 4)
        let drawn: Bool = rgba.withUnsafeMutableBytes { buffer in
            guard let context = CGContext(data: buffer.baseAddress, width: w, height: h, bitsPerComponent: 8, bytesPerRow: w * 4,
                                          space: CGColorSpace(name: CGColorSpace.sRGB)!, bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue) else { return false }
            context.setFillColor(CGColor(red: 1, green: 1, blue: 1, alpha: 1))
            context.fill(CGRect(x: 0, y: 0, width: w, height: h))   // translucent pixels land on white
            context.draw(image, in: CGRect(x: 0, y: 0, width: w, height: h))
            return true
        }
        guard drawn else { throw SidecarError("cannot draw the picture") }
        return RGBImage.fromRGBA(width: w, height: h, rgba: rgba)
    }

    /// A UIImage (photo library, camera), redrawn upright when it carries an EXIF orientation.
    static func rgb(_ image: UIImage) throws -> RGBImage {
        if image.imageOrientation == .up, let cg = image.cgImage { return try rgb(cg) }
        let format = UIGraphicsImageRendererFormat()
        format.scale = 1
        format.opaque = true
        let upright = UIGraphicsImageRenderer(size: image.size, format: format).image { _ in image.draw(at: .zero) }
        guard let cg = upright.cgImage else { throw SidecarError("cannot read the picture") }
        return try rgb(cg)
    }

    static func uiImage(_ image: RGBImage) -> UIImage? {
        var rgba = [UInt8](repeating: 255, count: image.width * image.height * 4)
        for i in 0..<(image.width * image.height) { for c in 0..<3 { rgba[i * 4 + c] = image.rgb[i * 3 + c] } }
        guard let provider = CGDataProvider(data: Data(rgba) as CFData),
              let cg = CGImage(width: image.width, height: image.height, bitsPerComponent: 8, bitsPerPixel: 32, bytesPerRow: image.width * 4,
                               space: CGColorSpace(name: CGColorSpace.sRGB)!, bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.noneSkipLast.rawValue),
                               provider: provider, decode: nil, shouldInterpolate: false, intent: .defaultIntent) else { return nil }
        return UIImage(cgImage: cg)
    }

    /// The pixels as a 32BGRA CVPixelBuffer (what a Core ML image input takes).
    static func pixelBuffer(_ image: RGBImage) throws -> CVPixelBuffer {
        var buffer: CVPixelBuffer?
        let status = CVPixelBufferCreate(kCFAllocatorDefault, image.width, image.height, kCVPixelFormatType_32BGRA,
                                         [kCVPixelBufferCGImageCompatibilityKey: true] as CFDictionary, &buffer)
        guard status == kCVReturnSuccess, let pb = buffer else { throw SidecarError("CVPixelBufferCreate failed (\(status))") }
        CVPixelBufferLockBaseAddress(pb, [])
        defer { CVPixelBufferUnlockBaseAddress(pb, []) }
        let base = CVPixelBufferGetBaseAddress(pb)!.assumingMemoryBound(to: UInt8.self)
        let stride = CVPixelBufferGetBytesPerRow(pb)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let p = base + y * stride + x * 4
                let i = (y * image.width + x) * 3
                p[0] = image.rgb[i + 2]
                p[1] = image.rgb[i + 1]
                p[2] = image.rgb[i]
                p[3] = 255
            }
        }
        return pb
    }
}
