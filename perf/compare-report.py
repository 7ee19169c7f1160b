#!/usr/bin/python3
"""Tables and results JSON for perf/compare.sh (called by it; see perf/results/README.md).

Reads the runs table compare.sh wrote (one tab-separated line per run:
image tool round status wall user sys rss_kb daemon_cpu_s daemon_rss_kb machine_busy_cpu_s load1
registry_cpu_s steal_cpu_s disk_written_bytes, or image tool round n/a; older tables lack the last columns), each image's meta.json, and decant's --json output of every run
(RUNLOG/<image>.<tool>.<round>.log: event lines, then the summary object, then GNU time's report).
Prints one table per image and writes everything to --out.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys

COLS = ["image", "tool", "round", "status", "wall", "user", "sys", "rss_kb", "daemon_cpu",
        "daemon_rss_kb", "machine_busy", "load1", "registry_cpu", "steal", "disk_written"]
CTR_TOOLS = ("containerd", "containerd-sync", "containerd-registry")  # run against the private daemon
REGISTRY_TOOLS = ("decant-registry", "decant-registry-discard", "containerd-registry")  # pull from the local registry


def parse_args():
    p = argparse.ArgumentParser()
    for a in ("records", "imgdir", "runlog", "out", "images", "tools", "decant", "git", "git-dirty",
              "uptime-before", "uptime-after", "versions"):
        p.add_argument("--" + a, required=True)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--quick", type=int, default=0)
    p.add_argument("--fs", default="root")
    return p.parse_args()


def read_runs(path):
    runs = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) == 4:
            runs.append({"image": f[0], "tool": f[1], "round": int(f[2]), "status": f[3]})
            continue
        r = dict(zip(COLS, f))
        r["round"] = int(r["round"])
        for k in ("wall", "user", "sys", "daemon_cpu", "machine_busy", "load1", "steal"):
            r[k] = float(r.get(k) or 0)
        # the registry's CPU during the run (registry tools only; older tables lack the column)
        if r["tool"] in REGISTRY_TOOLS and r.get("registry_cpu"):
            r["registry_cpu"] = float(r["registry_cpu"])
        else:
            r.pop("registry_cpu", None)
        for k in ("rss_kb", "daemon_rss_kb"):
            r[k] = int(r[k] or 0)
        # bytes written to the output's block device during the run (older tables: absent)
        if r.get("disk_written"):
            r["disk_mb"] = int(r.pop("disk_written")) / 1e6
            r["disk_mb_s"] = r["disk_mb"] / r["wall"] if r["wall"] else 0
        else:
            r.pop("disk_written", None)
        # what the tool itself used: the process tree, plus the daemon for containerd
        r["cpu_s"] = r["user"] + r["sys"] + r["daemon_cpu"]
        r["cpu_pct"] = 100 * r["cpu_s"] / r["wall"] if r["wall"] else 0
        # the whole machine: the tool plus the kernel threads working for it (ext4 writeback of
        # the files it wrote, which GNU time does not see) plus everyone else
        r["machine_pct"] = 100 * r["machine_busy"] / r["wall"] if r["wall"] else 0
        # everything else the machine did meanwhile (other engineers' builds...), in CPU-seconds;
        # the registry serving the pull is not "others" either
        r["others_cpu_s"] = max(0.0, r["machine_busy"] - r["cpu_s"] - r.get("registry_cpu", 0.0))
        runs.append(r)
    return runs


def decant_output(runlog, image, tool, rnd):
    """Decant's summary object and events from one run's log, or (None, [])."""
    summary, events = None, []
    try:
        lines = open(os.path.join(runlog, f"{image}.{tool}.{rnd}.log"), errors="replace").read().splitlines()
    except OSError:
        return None, []
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if "layers" in obj and "seconds" in obj:
            summary = obj
        elif "type" in obj:
            events.append(obj)
    return summary, events


def fmt_ratio(r):
    if r is None:
        return "-"
    return f"{r:.2f}x"


def main():
    a = parse_args()
    images = a.images.split(",")
    tools = a.tools.split(",")
    runs = read_runs(a.records)
    metas = {i: json.load(open(os.path.join(a.imgdir, i, "meta.json"))) for i in images}
    warnings = []
    result = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": {"cores": os.cpu_count(), "kernel": platform.release(),
                 "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "versions": dict(l.split("=", 1) for l in a.versions.splitlines() if "=" in l),
        "decant": {"binary": a.decant, "git": a.git, "uncommitted_source_changes": int(a.git_dirty)},
        "options": {"runs": a.runs, "images": images, "tools": tools, "quick": bool(a.quick), "fs": a.fs},
        "load": {"before": a.uptime_before.strip(), "after": a.uptime_after.strip()},
        "images": {},
    }

    for image in images:
        m = metas[image]
        tot = m["totals"]
        size = tot["uncompressed_size"]
        img = {"meta": {"layers": len(m["layers"]), "uncompressed_bytes": size, "compressed_bytes": tot["size"],
                        "entries": tot["entries"], "files": tot["files"], "file_bytes": tot["file_bytes"],
                        "whiteouts": tot["whiteouts"], "opaque": tot["opaque"], "hardlinks": tot["hardlinks"],
                        "symlinks": tot["symlinks"],
                        "layer_sizes": [{"compressed": l["size"], "uncompressed": l["uncompressed_size"],
                                         "entries": l["entries"]} for l in m["layers"]]},
               "tools": {}}
        for tool in tools:
            rs = [r for r in runs if r["image"] == image and r["tool"] == tool]
            if rs and all(r["status"] == "n/a" for r in rs):
                img["tools"][tool] = {"status": "n/a", "runs": rs}
                continue
            ok = [r for r in rs if r["status"] == "ok"]
            t = {"status": "ok" if ok and len(ok) == len(rs) else ("failed" if not ok else "some failed"),
                 "runs": rs}
            if ok:
                walls = [r["wall"] for r in ok]
                t.update({
                    "median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
                    "user_s": statistics.median(r["user"] for r in ok),
                    "sys_s": statistics.median(r["sys"] for r in ok),
                    "cpu_s": statistics.median(r["cpu_s"] for r in ok),
                    "cpu_pct": statistics.median(r["cpu_pct"] for r in ok),
                    "machine_pct": statistics.median(r["machine_pct"] for r in ok),
                    "peak_rss_mb": max(max(r["rss_kb"], r["daemon_rss_kb"]) for r in ok) / 1024,
                    "others_cpu_s": statistics.median(r["others_cpu_s"] for r in ok),
                    "load1": statistics.median(r["load1"] for r in ok),
                    "steal_s": statistics.median(r["steal"] for r in ok),
                })
                if all("disk_mb" in r for r in ok):
                    t["disk_mb"] = statistics.median(r["disk_mb"] for r in ok)
                    t["disk_mb_s"] = statistics.median(r["disk_mb_s"] for r in ok)
                if tool in REGISTRY_TOOLS and all("registry_cpu" in r for r in ok):
                    t["registry_cpu_s"] = statistics.median(r["registry_cpu"] for r in ok)
                if tool in CTR_TOOLS:
                    t["ctr_peak_rss_mb"] = max(r["rss_kb"] for r in ok) / 1024
                    t["daemon_peak_rss_mb"] = max(r["daemon_rss_kb"] for r in ok) / 1024
            if tool.startswith("decant") and ok:
                # the run whose wall time is the median (lower median for even counts)
                med_run = sorted(ok, key=lambda r: r["wall"])[(len(ok) - 1) // 2]
                per_run = []
                for r in ok:
                    s, ev = decant_output(a.runlog, image, tool, r["round"])
                    if s is None:
                        warnings.append(f"{image} {tool} round {r['round']}: no summary in decant's output")
                        continue
                    if s["uncompressedBytes"] != size:
                        warnings.append(f"{image} {tool} round {r['round']}: decant counted {s['uncompressedBytes']} "
                                        f"uncompressed bytes, the image has {size}")
                    ent = sum(l.get("entries") or 0 for l in s["layers"])
                    if ent != tot["entries"]:
                        warnings.append(f"{image} {tool} round {r['round']}: decant counted {ent} entries, "
                                        f"the image has {tot['entries']}")
                    lay = [{"index": l["index"], "seconds": l.get("seconds"), "entries": l.get("entries"),
                            "files": l.get("files"), "compressed": l["size"],
                            "uncompressed": l.get("uncompressedSize"), "status": l["status"],
                            "stages": l.get("stages")}
                           for l in sorted(s["layers"], key=lambda l: l["index"])]
                    # The floor (issue 6): the run's own inflate + hash + write seconds, over the cores.
                    work = sum((l["stages"] or {}).get(k, 0) for l in lay for k in ("inflate", "hash", "write"))
                    times = {}
                    for e in ev:
                        if e.get("type") in ("layer-extracted", "snapshot-commit", "unpack-start", "unpack-finish"):
                            times.setdefault(e["type"], []).append(e["time"])
                    per_run.append({"round": r["round"], "wall_s": r["wall"], "decant_seconds": s["seconds"],
                                    "decant_mb_s": s["megabytesPerSecond"], "files": s["files"], "layers": lay,
                                    "slowest_layer_s": max((l["seconds"] or 0) for l in lay),
                                    "sum_layer_s": sum((l["seconds"] or 0) for l in lay),
                                    "stage_work_s": work if work > 0 else None,
                                    "floor_s": work / (os.cpu_count() or 1) if work > 0 else None,
                                    "event_times": times})
                t["per_run"] = per_run
                t["median_run"] = med_run["round"]
                t["mb_s"] = size / 1e6 / t["median_s"]
                t["entries_s"] = tot["entries"] / t["median_s"]
                t["files_s"] = tot["files"] / t["median_s"]
            img["tools"][tool] = t

        # ratios: tool median / decant median (> 1: decant is faster)
        ref = img["tools"].get("decant", {}).get("median_s")
        img["ratio_to_decant"] = {tool: (t["median_s"] / ref if ref and "median_s" in t else None)
                                  for tool, t in img["tools"].items() if tool != "decant"}

        def ratio(a, b):  # median of tool a / median of tool b, or None
            ma, mb = (img["tools"].get(x, {}).get("median_s") for x in (a, b))
            return ma / mb if ma and mb else None
        # the same durability on both sides: decant's default flushes each layer before its
        # commit, containerd 1.6 and tar never do; the -sync tools add one syncfs at the end
        img["same_durability"] = {
            "containerd_sync_over_decant": ratio("containerd-sync", "decant"),
            "tar_sync_over_decant": ratio("tar-sync", "decant"),
            "containerd_over_decant_nosync": ratio("containerd", "decant-nosync"),
            "tar_over_decant_nosync": ratio("tar", "decant-nosync"),
        }
        if any(t in img["tools"] for t in REGISTRY_TOOLS):
            img["registry"] = {
                # issue 6: a registry pull within 1.2x of the same pull from an OCI layout
                "decant_registry_over_layout": ratio("decant-registry", "decant"),
                # the same with the layout's blobs copied into the store, as the registry pull must
                "decant_registry_over_layout_copy": ratio("decant-registry", "decant-copy"),
                # the registry pull that writes no layer blobs, like the linked layout pull
                "decant_registry_discard_over_layout": ratio("decant-registry-discard", "decant"),
                "ctr_pull_over_decant_registry": ratio("containerd-registry", "decant-registry"),
                "ctr_pull_over_ctr_import": ratio("containerd-registry", "containerd"),
            }
            # CPU for the registry pull (decant's and the registry's) over CPU for the layout pull:
            # on cores both keep equally busy, the wall-time ratio CPU alone would give
            lay, rp = (img["tools"].get(x, {}) for x in ("decant", "decant-registry"))
            if lay.get("cpu_s") and "cpu_s" in rp and "registry_cpu_s" in rp:
                img["registry"]["cpu_over_layout"] = (rp["cpu_s"] + rp["registry_cpu_s"]) / lay["cpu_s"]
                img["registry"]["decant_extra_cpu_s"] = rp["cpu_s"] - lay["cpu_s"]
        result["images"][image] = img

    result["warnings"] = warnings
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)

    # ---- tables ----
    print(f"\ndecant {a.git}{' + %s uncommitted source changes' % a.git_dirty if a.git_dirty != '0' else ''}; "
          f"median of {a.runs} round-robin runs per tool; before each run (untimed): "
          + ("rm -rf of the previous output" if a.fs == "root" else "a new ext4 (no journal) on a loop file")
          + ", sync, drop_caches, input and binaries read once")
    print(f"load before: {a.uptime_before.strip()}\nload after:  {a.uptime_after.strip()}")
    for image in images:
        img = result["images"][image]
        mt = img["meta"]
        print(f"\n### {image}: {mt['uncompressed_bytes'] / 1e6:.0f} MB uncompressed, {mt['entries']} entries "
              f"({mt['files']} files), {mt['layers']} layers, {mt['compressed_bytes'] / 1e6:.0f} MB compressed\n")
        print("| tool | median s | min s | max s | user s | sys s | CPU s | CPU % | peak RSS MB | others' CPU s | stolen CPU s | disk MB | disk MB/s | tool / decant |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for tool in tools:
            t = img["tools"].get(tool, {})
            if t.get("status") == "n/a":
                print(f"| {tool} | n/a | | | | | | | | | | | | |")
                continue
            if "median_s" not in t:
                print(f"| {tool} | failed | | | | | | | | | | | | |")
                continue
            rss = f"{t['peak_rss_mb']:.0f}"
            if tool in CTR_TOOLS:
                rss = f"{t['daemon_peak_rss_mb']:.0f} (daemon) / {t['ctr_peak_rss_mb']:.0f} (ctr)"
            ratio = "1.00x" if tool == "decant" else fmt_ratio(img["ratio_to_decant"].get(tool))
            flag = "" if t["status"] == "ok" else f" ({t['status']})"
            disk = f"{t['disk_mb']:.0f} | {t['disk_mb_s']:.0f}" if "disk_mb" in t else "- | -"
            print(f"| {tool}{flag} | {t['median_s']:.2f} | {t['min_s']:.2f} | {t['max_s']:.2f} | {t['user_s']:.2f} | "
                  f"{t['sys_s']:.2f} | {t['cpu_s']:.2f} | {t['cpu_pct']:.0f} | {rss} | {t['others_cpu_s']:.1f} | {t['steal_s']:.2f} | {disk} | {ratio} |")
        d = img["tools"].get("decant")
        if d and "median_s" in d:
            ratios = [f"{tool}/decant = {r:.2f}x" for tool, r in img["ratio_to_decant"].items() if r]
            print(f"\ndecant: {d['mb_s']:.0f} MB/s (uncompressed), {d['entries_s']:.0f} entries/s, "
                  f"{d['files_s']:.0f} files/s, peak RSS {d['peak_rss_mb']:.0f} MB, CPU {d['cpu_pct']:.0f}% "
                  f"of {os.cpu_count() * 100}% (the whole machine: {d['machine_pct']:.0f}%, counting the kernel's "
                  f"writeback of decant's files and any other work)\n  {'; '.join(ratios) or '-'}  (> 1: decant is faster)")
            mr = next((p for p in d["per_run"] if p["round"] == d["median_run"]), None)
            if mr:
                lays = ", ".join(f"L{l['index'] + 1} {l['seconds']:.2f}s/{l['entries']}e" for l in mr["layers"])
                print(f"decant median run (round {mr['round']}): wall {mr['wall_s']:.2f} s, decant's own "
                      f"{mr['decant_seconds']:.2f} s; layer extraction {lays}; slowest layer "
                      f"{mr['slowest_layer_s']:.2f} s, sum {mr['sum_layer_s']:.2f} s")
                if mr.get("floor_s"):
                    print(f"floor (this run's inflate + hash + write seconds {mr['stage_work_s']:.2f} / {os.cpu_count()} cores): "
                          f"{mr['floor_s']:.2f} s; decant's own time is {mr['decant_seconds'] / mr['floor_s']:.2f}x the floor "
                          f"(issue 6: <= 1.25x)")
        same = {k: v for k, v in img["same_durability"].items() if v}
        if same:
            names = {"containerd_sync_over_decant": "containerd-sync/decant",
                     "tar_sync_over_decant": "tar-sync/decant",
                     "containerd_over_decant_nosync": "containerd/decant-nosync",
                     "tar_over_decant_nosync": "tar/decant-nosync"}
            print("at the same durability: " + "; ".join(f"{names[k]} = {v:.2f}x" for k, v in same.items())
                  + "  (flushed: decant, *-sync; never flushed: decant-nosync, containerd, tar)")
        reg = img.get("registry")
        if reg:
            rt = img["tools"]
            rcpu = "; ".join(f"{tool} {rt[tool]['registry_cpu_s']:.2f} s" for tool in REGISTRY_TOOLS
                             if "registry_cpu_s" in rt.get(tool, {}))
            r = reg["decant_registry_over_layout"]
            verdict = "" if r is None else (" (within 1.2x)" if r <= 1.2 else " (over 1.2x)")
            rc = reg.get("decant_registry_over_layout_copy")
            copy = "" if rc is None else f"; over the layout pull with --copy-blobs (both write the blobs): {fmt_ratio(rc)}"
            rd = reg.get("decant_registry_discard_over_layout")
            if rd is not None:
                copy += f"; with --discard-unpacked-layers (neither writes layer blobs): {fmt_ratio(rd)}"
            if reg.get("cpu_over_layout") is not None:
                copy += (f"\n  its CPU, the registry's included, over the layout pull's: {fmt_ratio(reg['cpu_over_layout'])} "
                         f"(decant {reg['decant_extra_cpu_s']:+.2f} CPU-s, the registry "
                         f"{rt['decant-registry']['registry_cpu_s']:.2f}): the ratio CPU alone sets when both keep the cores equally busy")
            print(f"\nregistry pull / OCI-layout pull (decant): {fmt_ratio(r)}{verdict}  (issue 6: <= 1.2x){copy}\n"
                  f"ctr pull / decant registry pull: {fmt_ratio(reg['ctr_pull_over_decant_registry'])}  "
                  f"(> 1: decant is faster); ctr pull / ctr import: {fmt_ratio(reg['ctr_pull_over_ctr_import'])}\n"
                  f"registry's own CPU per pull (median, in neither tool's CPU): {rcpu or '-'}")
    print("\nuser/sys s: the timed process tree (for containerd: ctr only); CPU s and CPU %: user + sys, "
          "plus the daemon's CPU (with its unpigz children) for containerd and containerd-registry; others' CPU s: "
          "CPU time the rest of the machine used during the run (/proc/stat; minus the registry's own CPU for the "
          "registry tools): other users' work, but also kernel threads working "
          "for the tool (writeback flushers, the loop device), so an upper bound on the noise; disk MB: "
          "written to the output's block device during the run (/proc/diskstats; tools that do not flush "
          "leave part of theirs to be written after), disk MB/s: that over the wall time")
    for w in warnings:
        print("warning:", w, file=sys.stderr)


if __name__ == "__main__":
    main()
