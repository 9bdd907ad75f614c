// Prints the size of the quantized model the build-tool plugin put into DigitsModel's resources.
import DigitsModel
import Foundation

guard let url = DigitsModel.url, let data = FileManager.default.contents(atPath: url.path), data.count > 0,
      DigitsModel.report != nil else {
    FileHandle.standardError.write(Data("plugin-example: the quantized model is not among DigitsModel's resources\n".utf8))
    exit(1)
}
print("plugin-example: \(url.lastPathComponent) is \(data.count) bytes")
