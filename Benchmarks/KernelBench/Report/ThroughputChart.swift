import Foundation

/// One chart of a family's records in one unit, as hand-written SVG: throughput against the
/// work of one run, both on log scales. Each device has a colour; each (op, variant, dtype)
/// a marker and dash pattern, the same on every device; each device's roofline (the median
/// of its records' `roofline`) is a thin dashed line across the plot in its colour.
struct ThroughputChart {
    let family: String
    let unit: String
    let records: [BenchRecord]
    /// `softmax`, or `softmax-gflops` for a family whose records come in several units.
    let name: String

    /// One chart per family and unit, in family order, for the families measured on more than
    /// one size (the roofline family's one size per device has nothing to chart).
    static func charts(_ records: [BenchRecord]) -> [ThroughputChart] {
        Dictionary(grouping: records, by: \.family).sorted { $0.key < $1.key }.flatMap { family, records in
            let byUnit = Dictionary(grouping: records, by: \.unit).sorted { $0.key < $1.key }
            return byUnit.map { unit, records in
                ThroughputChart(family: family, unit: unit, records: records,
                                name: byUnit.count == 1 ? family : "\(family)-\(unitSlug(unit))")
            }
        }.filter { chart in chart.series.contains { $0.points.count > 1 } }
    }

    private static func unitSlug(_ unit: String) -> String {
        ["GB/s": "gbps", "GFLOP/s": "gflops"][unit] ?? String(unit.lowercased().filter { $0.isLetter || $0.isNumber })
    }

    // MARK: Series

    struct SeriesKey: Hashable, Comparable {
        let op: String, variant: String, dtype: String

        static func < (a: Self, b: Self) -> Bool { (a.op, a.variant, a.dtype) < (b.op, b.variant, b.dtype) }
    }

    struct Series {
        let key: SeriesKey
        let device: String
        /// (work, throughput), by work.
        let points: [(x: Double, y: Double)]
    }

    /// Devices in name order (the CPU path, `cpu`, sorts before `opencl:N`).
    var devices: [String] { Set(plotted.map(\.device)).sorted() }

    /// The records a log scale can show.
    private var plotted: [BenchRecord] {
        records.filter { $0.work > 0 && $0.throughput > 0 && $0.work.isFinite && $0.throughput.isFinite }
    }

    var keys: [SeriesKey] { Set(plotted.map(seriesKey)).sorted() }

    private func seriesKey(_ record: BenchRecord) -> SeriesKey {
        SeriesKey(op: record.op, variant: record.variant, dtype: record.dtype)
    }

    var series: [Series] {
        Dictionary(grouping: plotted) { DeviceSeriesKey(key: seriesKey($0), device: $0.device) }
            .map { key, records in
                let sorted = records.sorted { ($0.work, $0.shapeLabel) < ($1.work, $1.shapeLabel) }
                return Series(key: key.key, device: key.device, points: sorted.map { (x: $0.work, y: $0.throughput) })
            }
            .sorted { ($0.device, $0.key) < ($1.device, $1.key) }
    }

    private struct DeviceSeriesKey: Hashable { let key: SeriesKey, device: String }

    /// Each device's roofline, the median of its records' (none where no record has one).
    var rooflines: [(device: String, value: Double, source: String)] {
        devices.compactMap { device in
            let records = plotted.filter { $0.device == device && $0.roofline > 0 && $0.roofline.isFinite }
            guard !records.isEmpty else { return nil }
            let sources = Set(records.map(\.rooflineSource)).sorted().joined(separator: ", ")
            return (device, median(records.map(\.roofline)), sources)
        }
    }

    /// The label of a series within its device: op and variant, and the dtype when the chart has several.
    func label(_ key: SeriesKey) -> String {
        let dtypes = Set(keys.map(\.dtype))
        return [key.op, key.variant, dtypes.count > 1 ? key.dtype : nil].compactMap { $0 }.joined(separator: " ")
    }

    func label(of record: BenchRecord) -> String { label(seriesKey(record)) }

    func deviceLabel(_ device: String) -> String {
        guard let record = plotted.first(where: { $0.device == device }) else { return device }
        return record.deviceType == "cpu-path" ? "CPU path (cpu)" : record.shortDevice
    }

    // MARK: Drawing

    static let palette = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f3c8d", "#3b3b3b",
                          "#a6761d", "#999933"]
    static let dashes = ["", "7 3", "2 3", "9 3 2 3", "14 4", "4 2 1 2"]
    static let markers = ["circle", "square", "triangle", "diamond", "triangle-down", "cross"]
    static let rooflineDash = "16 5 3 5"

    private static let width = 960.0
    private static let plotLeft = 80.0, plotRight = 610.0, plotTop = 64.0
    private static let legendLeft = 640.0, lineHeight = 18.0

    func svg() -> String {
        let series = series, rooflines = rooflines, devices = devices, keys = keys
        let legendLines = devices.count + rooflines.count + series.count
        let height = max(480, (Self.plotTop + Double(legendLines) * Self.lineHeight + 40).rounded(.up))
        let plotBottom = height - 64
        let xs = series.flatMap { $0.points.map(\.x) }
        let ys = series.flatMap { $0.points.map(\.y) } + rooflines.map(\.value)
        let xAxis = LogAxis(xs, from: Self.plotLeft, to: Self.plotRight)
        let yAxis = LogAxis(ys, from: plotBottom, to: Self.plotTop)
        let colour = { (device: String) in Self.palette[(devices.firstIndex(of: device) ?? 0) % Self.palette.count] }
        let style = { (key: SeriesKey) -> (marker: String, dash: String) in
            let index = keys.firstIndex(of: key) ?? 0
            let round = index / Self.markers.count
            return (Self.markers[index % Self.markers.count], Self.dashes[(index + round) % Self.dashes.count])
        }

        var svg = SVGWriter()
        let size = (width: String(Int(Self.width)), height: String(Int(height)))
        svg.open("svg", ["xmlns": SVGWriter.namespace, "viewBox": "0 0 \(size.width) \(size.height)",
                         "width": size.width, "height": size.height, "font-family": "sans-serif", "font-size": "12"])
        let title = "\(family): throughput against work per run (\(unit))"
        svg.element("title", text: title)
        svg.element("rect", ["width": size.width, "height": size.height, "fill": "white"])
        svg.element("text", ["x": f(Self.plotLeft), "y": "24", "font-size": "16", "font-weight": "bold"], text: title)
        svg.element("text", ["x": f(Self.plotLeft), "y": "44", "fill": "#555"],
                    text: "Median of the timed runs. Colour: device; marker and dash: op and variant. "
                        + "Thin long dashes: each device's roofline.")

        svg.open("g", ["id": "axes", "stroke": "#ccc", "stroke-width": "1"])
        for tick in xAxis.ticks {
            let x = f(xAxis.position(tick.value))
            svg.element("line", ["x1": x, "y1": f(Self.plotTop), "x2": x, "y2": f(plotBottom)])
            svg.element("text", ["x": x, "y": f(plotBottom + 18), "text-anchor": "middle", "stroke": "none",
                                 "fill": "#333"], text: workLabel(tick.value))
        }
        for tick in yAxis.ticks {
            let y = f(yAxis.position(tick.value))
            svg.element("line", ["x1": f(Self.plotLeft), "y1": y, "x2": f(Self.plotRight), "y2": y])
            svg.element("text", ["x": f(Self.plotLeft - 6), "y": f(yAxis.position(tick.value) + 4),
                                 "text-anchor": "end", "stroke": "none", "fill": "#333"], text: number(tick.value))
        }
        svg.element("rect", ["x": f(Self.plotLeft), "y": f(Self.plotTop), "width": f(Self.plotRight - Self.plotLeft),
                             "height": f(plotBottom - Self.plotTop), "fill": "none", "stroke": "#333"])
        svg.element("text", ["x": f((Self.plotLeft + Self.plotRight) / 2), "y": f(plotBottom + 44),
                             "text-anchor": "middle", "stroke": "none"], text: "\(workName) per run (log scale)")
        let yLabelY = f((Self.plotTop + plotBottom) / 2)
        svg.element("text", ["x": "20", "y": yLabelY, "text-anchor": "middle", "stroke": "none",
                             "transform": "rotate(-90 20 \(yLabelY))"], text: "throughput, \(unit) (log scale)")
        svg.close("g")

        svg.open("g", ["id": "rooflines", "stroke-width": "1.2", "stroke-dasharray": Self.rooflineDash])
        for roofline in rooflines {
            let y = f(yAxis.position(roofline.value))
            svg.element("line", ["class": "roofline", "data-device": roofline.device, "x1": f(Self.plotLeft), "y1": y,
                                 "x2": f(Self.plotRight), "y2": y, "stroke": colour(roofline.device)])
        }
        svg.close("g")

        svg.open("g", ["id": "series", "stroke-width": "1.8", "fill": "none"])
        for one in series {
            let (marker, dash) = style(one.key)
            let points = one.points.map { (xAxis.position($0.x), yAxis.position($0.y)) }
            var attributes = ["class": "series", "data-device": one.device, "data-label": label(one.key),
                              "stroke": colour(one.device)]
            if !dash.isEmpty { attributes["stroke-dasharray"] = dash }
            svg.open("g", attributes)
            svg.element("polyline", ["points": points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")])
            for point in points { svg.marker(marker, at: point, fill: colour(one.device)) }
            svg.close("g")
        }
        svg.close("g")

        // The legend: each device (its colour and roofline), then its series.
        svg.open("g", ["id": "legend"])
        var y = Self.plotTop + 4
        let rooflineByDevice = Dictionary(uniqueKeysWithValues: rooflines.map { ($0.device, $0) })
        for device in devices {
            let x = Self.legendLeft
            svg.element("text", ["x": f(x), "y": f(y + 4), "font-weight": "bold", "fill": colour(device)],
                        text: deviceLabel(device))
            y += Self.lineHeight
            if let roofline = rooflineByDevice[device] {
                svg.element("line", ["x1": f(x + 12), "y1": f(y), "x2": f(x + 40), "y2": f(y), "stroke": colour(device),
                                     "stroke-width": "1.2", "stroke-dasharray": Self.rooflineDash])
                svg.element("text", ["x": f(x + 46), "y": f(y + 4)],
                            text: "roofline \(number(roofline.value)) \(unit) (\(roofline.source))")
                y += Self.lineHeight
            }
            for one in series where one.device == device {
                let (marker, dash) = style(one.key)
                var attributes = ["stroke": colour(device), "stroke-width": "1.8", "fill": "none"]
                if !dash.isEmpty { attributes["stroke-dasharray"] = dash }
                svg.open("g", attributes)
                svg.element("line", ["x1": f(x + 12), "y1": f(y), "x2": f(x + 40), "y2": f(y)])
                svg.marker(marker, at: (x + 26, y), fill: colour(device))
                svg.close("g")
                svg.element("text", ["x": f(x + 46), "y": f(y + 4)], text: label(one.key))
                y += Self.lineHeight
            }
        }
        svg.close("g")
        svg.close("svg")
        return svg.text
    }

    private var workName: String {
        switch unit {
        case "GB/s": return "bytes moved"
        case "GFLOP/s": return "FLOPs"
        default: return "work"
        }
    }

    /// A work tick with a decimal SI prefix: 10 MB, 2 GFLOP.
    private func workLabel(_ value: Double) -> String {
        let base = ["GB/s": "B", "GFLOP/s": "FLOP"][unit] ?? ""
        let prefixes = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        guard let (scale, prefix) = prefixes.first(where: { value >= $0.0 }) else { return "\(number(value)) \(base)" }
        return "\(number(value / scale)) \(prefix)\(base)"
    }
}

/// A log-scale axis over whole decades around the data, ticked at powers of 10, and also
/// at 2× and 5× when it spans at most two decades.
struct LogAxis {
    let low: Double, high: Double
    let from: Double, to: Double

    init(_ values: [Double], from: Double, to: Double) {
        let logs = values.filter { $0 > 0 && $0.isFinite }.map(log10)
        var low = (logs.min() ?? 0).rounded(.down), high = (logs.max() ?? 1).rounded(.up)
        if high <= low { low -= 1; high += 1 }
        (self.low, self.high, self.from, self.to) = (low, high, from, to)
    }

    func position(_ value: Double) -> Double { from + (log10(value) - low) / (high - low) * (to - from) }

    var ticks: [(value: Double, major: Bool)] {
        let mantissas: [Double] = high - low <= 2 ? [1, 2, 5] : [1]
        return stride(from: low, through: high, by: 1).flatMap { decade in
            mantissas.map { (value: $0 * pow(10, decade), major: $0 == 1) }
        }.filter { log10($0.value) <= high + 1e-9 }
    }
}

/// SVG text built element by element, attributes in name order, every text escaped.
struct SVGWriter {
    static let namespace = "http://www.w3.org/2000/svg"
    private(set) var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    private var depth = 0

    mutating func open(_ name: String, _ attributes: [String: String] = [:]) {
        line("<\(name)\(Self.attributes(attributes))>")
        depth += 1
    }

    mutating func close(_ name: String) {
        depth -= 1
        line("</\(name)>")
    }

    mutating func element(_ name: String, _ attributes: [String: String] = [:], text: String? = nil) {
        guard let text else { return line("<\(name)\(Self.attributes(attributes))/>") }
        line("<\(name)\(Self.attributes(attributes))>\(Self.escaped(text))</\(name)>")
    }

    /// A marker centred on `point`, about 8 units across.
    mutating func marker(_ shape: String, at point: (Double, Double), fill: String) {
        let (x, y) = point
        let path: String
        switch shape {
        case "circle": return element("circle", ["cx": f(x), "cy": f(y), "r": "3.5", "fill": fill,
                                                 "stroke-dasharray": "none"])
        case "square": path = "M\(f(x - 3.5)) \(f(y - 3.5))h7v7h-7z"
        case "triangle": path = "M\(f(x)) \(f(y - 4.5))l4.5 8h-9z"
        case "diamond": path = "M\(f(x)) \(f(y - 4.5))l4.5 4.5l-4.5 4.5l-4.5 -4.5z"
        case "triangle-down": path = "M\(f(x)) \(f(y + 4.5))l4.5 -8h-9z"
        default: path = "M\(f(x - 4)) \(f(y - 4))l8 8m0 -8l-8 8"
        }
        element("path", ["d": path, "fill": fill, "stroke-dasharray": "none"])
    }

    private mutating func line(_ line: String) {
        text += String(repeating: "  ", count: depth) + line + "\n"
    }

    private static func attributes(_ attributes: [String: String]) -> String {
        attributes.keys.sorted().map { " \($0)=\"\(escaped(attributes[$0]!))\"" }.joined()
    }

    static func escaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

/// A coordinate with one decimal: stable text for readable diffs.
private func f(_ value: Double) -> String { String(format: "%.1f", value) }

/// A tick or roofline value: 0.5, 20, 1000, 45.1.
private func number(_ value: Double) -> String {
    if value >= 100 || value == value.rounded() { return String(format: "%.0f", value) }
    return String(format: value >= 1 ? "%.1f" : "%.2g", value)
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
