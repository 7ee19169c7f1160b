#!/usr/bin/env python3
"""Draws a `decant pull --trace FILE` timeline as an SVG: one row per layer (bottom layer first),
one bar per phase, and under each extract bar how its time split between reading, hashing,
inflating and writing (the two threads of a layer, so the split can add up to more than the bar).

    python3 perf/trace-svg.py trace.json trace.svg
"""
import html
import json
import sys

COLORS = {
    "resolve": "#9e9e9e", "queued": "#e0e0e0", "extract": "#4e79a7", "store": "#76b7b2",
    "wait-parent": "#f3e5ab", "fixups": "#b07aa1", "sync": "#e15759", "commit": "#59a14f", "record": "#9e9e9e",
}
STAGES = [("read", "#f28e2b"), ("hash", "#edc948"), ("inflate", "#af7aa1"), ("write", "#4e79a7")]


def main(source, target):
    trace = json.load(open(source))
    total = max([trace["seconds"]] + [span["end"] for span in trace["spans"]]) or 1
    layers = trace["layers"]
    width, left, row, top = 1100, 280, 34, 60
    height = top + row * (len(layers) + 1) + 70
    scale = (width - left - 20) / total

    def x(seconds):
        return left + seconds * scale

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>']
    cpu = trace["cpuSeconds"]
    title = (f'{html.escape(trace["image"])}: {trace["seconds"]:.2f} s, CPU {cpu["user"]:.1f} user + {cpu["system"]:.1f} sys '
             f'= {(cpu["user"] + cpu["system"]) / max(trace["seconds"], 1e-9) * 100:.0f}% CPU of {trace["cores"] * 100}%'
             + ("" if trace["ok"] else " - FAILED"))
    out.append(f'<text x="10" y="20" font-size="13">{title}</text>')
    step = next(s for s in (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600) if total / s <= 12)
    tick = 0.0
    while tick <= total + 1e-9:
        out.append(f'<line x1="{x(tick):.1f}" y1="{top - 10}" x2="{x(tick):.1f}" y2="{height - 60}" stroke="#eee"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{top - 14}" text-anchor="middle" fill="#666">{tick:g}s</text>')
        tick += step
    rows = {None: 0}
    for position, layer in enumerate(layers):
        rows[layer["index"]] = position + 1
        y = top + row * (position + 1)
        label = f'{layer["index"]}: {layer["digest"][7:19]} {layer["size"] / 1e6:.1f} MB {layer.get("status") or ""}'
        out.append(f'<text x="10" y="{y + 14}">{html.escape(label)}</text>')
    out.append(f'<text x="10" y="{top + 14}">image</text>')
    for span in trace["spans"]:
        y = top + row * rows.get(span.get("layer"), 0)
        color = COLORS.get(span["phase"], "#bab0ac")
        w = max((span["end"] - span["start"]) * scale, 1)
        out.append(f'<rect x="{x(span["start"]):.1f}" y="{y}" width="{w:.1f}" height="14" fill="{color}">'
                   f'<title>{span["phase"]} {span["end"] - span["start"]:.3f} s</title></rect>')
        if span["phase"] == "extract" and span.get("layer") is not None:
            stages = next((l.get("stages") for l in layers if l["index"] == span["layer"]), None)
            if stages:
                offset = x(span["start"])
                for name, stage_color in STAGES:
                    part = stages.get(name, 0) * scale
                    out.append(f'<rect x="{offset:.1f}" y="{y + 16}" width="{max(part, 0):.1f}" height="8" fill="{stage_color}">'
                               f'<title>{name} {stages.get(name, 0):.3f} s</title></rect>')
                    offset += part
    legend_y = height - 40
    offset = 10
    for name, color in list(COLORS.items())[1:-1] + STAGES:
        out.append(f'<rect x="{offset}" y="{legend_y}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{offset + 16}" y="{legend_y + 10}">{name}</text>')
        offset += 30 + 7 * len(name)
    out.append(f'<text x="10" y="{height - 10}" fill="#666">thin bars: the extract\'s read, hash, inflate (decoding and hashing threads) and write (applying thread) seconds, laid end to end</text>')
    out.append("</svg>")
    open(target, "w").write("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
