/// Pads `text` with spaces to `width` characters, for the columns of `monitor` and `status`.
func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}
