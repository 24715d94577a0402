"""The suite's summaries and its markdown table, from the rows the subjects measured (no
measurement here). `summarise` leaves out what needs rows that were not run (a subject run
alone, a smoke run without the peers), so a subject's own results carry their ratios too;
`markdown` needs the whole suite (``python benchmarks/run.py``).
"""

from __future__ import annotations


def _at_accuracy(rows, target=1e-4):
    ok = [row for row in rows if row["l1"] <= target]
    return min(ok, key=lambda row: row["wall_s"]) if ok else None


def _at_peer_accuracy(ours, peers):
    """The peer's most accurate run, and ours at the fastest (smallest) grid with an L1 no
    larger; if no grid of ours gets there, our most accurate one, flagged. Peer runs that
    failed are skipped; if all failed, their errors."""
    ran = [row for row in peers if "error" not in row]
    if not ran:
        return {"peer_error": "; ".join(f"{row['cells']}: {row['error']}" for row in peers)}
    peer = min(ran, key=lambda row: row["l1"])
    good = [row for row in ours if row["l1"] <= peer["l1"]]
    mine = min(good, key=lambda row: row["wall_s"]) if good else min(ours, key=lambda r: r["l1"])
    out = {
        "ours": mine,
        "peer": peer,
        "ours_reached_peer_l1": bool(good),
        "speedup": peer["wall_s"] / mine["wall_s"],
    }
    if "wall_with_compile_s" in peer:  # py-pde: also with the recompile every solve() pays
        out["speedup_with_compile"] = peer["wall_with_compile_s"] / mine["wall_s"]
    return out


def _particles_em_summary(r):
    """Per dimension and size: particle-steps/s of ours and of numpy EM, normals/s of numpy's
    generator and of ours (1 and 2 threads), our speed-ups over numpy, and the share of our
    EM time our generator alone needs (2 threads)."""
    key = lambda row: (row["dimension"], row["particles"])  # noqa: E731
    em_numpy = {key(row): row for row in r["particles_em_numpy"]}
    draws = {key(row): row for row in r["normals"]}
    ours = {(*key(row), row["threads"]): row for row in r.get("normals_ours", [])}
    out = {}
    for row in r["particles_em"]:
        k = key(row)
        e = out[f"{k[0]}d_{k[1]}"] = {
            "ours_particle_steps_per_s": row["particle_steps_per_s"],
            "numpy_particle_steps_per_s": em_numpy[k]["particle_steps_per_s"],
            "normals_per_s": draws[k]["normals_per_s"],
            "speedup_vs_numpy": em_numpy[k]["wall_s"] / row["wall_s"],
        }
        if (*k, 2) in ours and (*k, 1) in ours:
            e["ours_normals_per_s_1thread"] = ours[(*k, 1)]["normals_per_s"]
            e["ours_normals_per_s_2threads"] = ours[(*k, 2)]["normals_per_s"]
            e["normals_speedup_vs_numpy_1thread"] = draws[k]["wall_s"] / ours[(*k, 1)]["wall_s"]
            e["normals_share_of_our_time"] = ours[(*k, 2)]["wall_s"] / row["wall_s"]
    return out


def _particle_series(rows):
    """{'<d>d_<threads>threads': {particles: ns per particle-step}}."""
    out = {}
    for row in rows:
        key = f"{row['dimension']}d_{row['threads']}threads"
        out.setdefault(key, {})[row["particles"]] = 1e9 / row["particle_steps_per_s"]
    return out


def _threads_summary(rows):
    """Per case, the 1-thread time over the 2-thread time, alone and beside a busy
    neighbour: with the solver's timed choice of passes, and (where measured) with parallel
    passes throughout."""
    wall = {(row["case"], row["threads"], row["neighbour"], row.get("passes", "timed")):
            row["wall_s"] for row in rows}  # fmt: skip
    out = {}
    for case in dict.fromkeys(row["case"] for row in rows):
        ratios = {}
        for busy, name in ((False, "alone"), (True, "beside_busy_neighbour")):
            one = wall[(case, 1, busy, "timed")]
            ratios[name] = one / wall[(case, 2, busy, "timed")]
            if (case, 2, busy, "parallel") in wall:
                ratios[f"always_parallel_{name}"] = one / wall[(case, 2, busy, "parallel")]
        out[case] = ratios
    return out


def _thread_speedups(rows):
    """{'<d>d_<particles>': 1-thread time / 2-thread time} where both were run."""
    wall = {(row["dimension"], row["particles"], row["threads"]): row["wall_s"] for row in rows}
    return {
        f"{d}d_{m}": wall[(d, m, 1)] / t
        for (d, m, threads), t in wall.items()
        if threads == 2 and (d, m, 1) in wall
    }


def _scaling(r):
    """Time per unit of work over the sizes already measured (constant = linear in size) and
    the 2-thread over 1-thread speed-up of the particle kernel; no new runs. A cell-update is
    one cell in one Runge-Kutta stage, as in ``cell_updates_per_s``."""
    out = {
        f"vlasov_{dim}_ns_per_cell_update": {
            row["cells"]: 1e9 / row["cell_updates_per_s"] for row in r[f"vlasov_{dim}_ours"]
        }
        for dim in ("1d", "2d")
        if f"vlasov_{dim}_ours" in r
    }
    if "particles_numba" in r:
        out["particles_ns_per_particle_step"] = _particle_series(r["particles_numba"])
        out["particles_speedup_2_vs_1_threads"] = _thread_speedups(r["particles_numba"])
    if "particles_em" in r:
        out["particles_em_ns_per_particle_step"] = _particle_series(r["particles_em"])
    return out


def _frames_summary(r):
    """Moving against fixed frame per step (per grid), and per frame our smallest grid with
    L1 <= 1e-4 against py-pde's best run at that accuracy (or its most accurate)."""
    rows = {(row["cells"], row["frame"]): row for row in r["frames_per_step"]}
    out = {"moving_per_fixed_step": {
        cells: rows[(cells, "moving")]["step_s"] / rows[(cells, "fixed")]["step_s"]
        for cells, frame in rows if frame == "fixed" and (cells, "moving") in rows
    }}  # fmt: skip
    peers = r.get("frames_pypde", [])
    if r.get("frames_at_target") and any("l1" in row for row in peers):
        done = [row for row in peers if "l1" in row]
        reached = [row for row in done if row["l1"] <= 1e-4]
        peer = min(reached, key=lambda row: row["wall_s"]) if reached else min(
            done, key=lambda row: row["l1"])  # fmt: skip
        out["frames_equal_accuracy"] = {
            row["frame"]: {"ours": row, "pypde": peer, "pypde_reached_1e-4": bool(reached),
                           "speedup_vs_pypde": peer["wall_s"] / row["wall_s"]}
            for row in r["frames_at_target"]
        }  # fmt: skip
    return out


def summarise(r):
    """The ratios measured side by side, and the scaling; a block whose rows are missing from
    ``r`` is left out."""
    s = {}
    if "vlasov_1d_pypde" in r:
        pypde_ran = [row for row in r["vlasov_1d_pypde"] if "error" not in row]
        ours, theirs = _at_accuracy(r["vlasov_1d_ours"]), _at_accuracy(pypde_ran)
        best_pypde = min(pypde_ran, key=lambda row: row["l1"])
        s["vlasov_1d_equal_accuracy"] = {
            "ours": ours,
            "pypde": theirs or best_pypde,
            "pypde_reached_1e-4": theirs is not None,
            "speedup_vs_pypde": (theirs or best_pypde)["wall_s"] / ours["wall_s"],
        }
    if "vlasov_1d_numpy" in r:
        same = {row["cells"]: row for row in r["vlasov_1d_numpy"]}
        s["vlasov_1d_numba_vs_numpy"] = {
            f"{n} cells, t = {row['t']:g}": same[n]["wall_s"] / row["wall_s"]
            for n, row in ((row["cells"], row) for row in r["vlasov_1d_ours"])
            if n in same
        }
        ours_short, numpy_short = r["vlasov_1d_short"]
        s["vlasov_1d_numba_vs_numpy"][f"{ours_short['cells']} cells, t = {ours_short['t']:g}"] = (
            numpy_short["wall_s"] / ours_short["wall_s"]
        )
    if "fokker_planck_pypde" in r:
        fp, fp_pypde = r["fokker_planck_ours"], r["fokker_planck_pypde"]
        target = min(row["l1"] for row in fp_pypde)
        ours_fp = min(
            (row for row in fp if row["l1"] <= target),
            key=lambda row: row["wall_s"],
            default=fp[-1],
        )
        s["fokker_planck_equal_accuracy"] = {
            "ours": ours_fp,
            "pypde": min(fp_pypde, key=lambda row: row["l1"]),
            "speedup_vs_pypde": min(fp_pypde, key=lambda row: row["l1"])["wall_s"]
            / ours_fp["wall_s"],
        }
    if "particles_numpy" in r:
        numpy_rate = {
            (row["particles"], row["dimension"]): row["particle_steps_per_s"]
            for row in r["particles_numpy"]
        }
        s["particles_speedup_vs_numpy_2threads"] = {
            f"{row['dimension']}d_{row['particles']}": row["particle_steps_per_s"]
            / numpy_rate[(row["particles"], row["dimension"])]
            for row in r["particles_numba"]
            if row["threads"] == 2
        }
    if "kernel_traffic" in r:
        triad_bps = r["kernel_traffic"]["triad_GBps"] * 1e9
        s["kernel_traffic_fraction_of_triad"] = {
            dim: {
                "moved": k["GBps"] * 1e9 / triad_bps,
                "density_only": k["density_bytes_per_cell_stage"]
                * k["cell_stages_per_s"]
                / triad_bps,
                "out_of_cache_vs_in_cache_rate": k["cell_stages_per_s"]
                / k["in_cache_cell_stages_per_s"],
            }
            for dim, k in r["kernel_traffic"].items()
            if dim in ("1d", "2d")
        }
    if "vlasov_2d_pypde" in r:
        s["vlasov_2d_equal_accuracy"] = _at_peer_accuracy(r["vlasov_2d_ours"], r["vlasov_2d_pypde"])
    if "fokker_planck_fplanck" in r:
        s["fokker_planck_vs_fplanck"] = _at_peer_accuracy(
            r["fokker_planck_ours"], r["fokker_planck_fplanck"]
        )
    if "particles_em" in r:
        s["particles_em"] = _particles_em_summary(r)
    scaling = _scaling(r)
    if scaling:
        s["scaling"] = scaling
    if "threads_beside_neighbour" in r:
        s["threads_2_vs_1"] = _threads_summary(r["threads_beside_neighbour"])
    if "frames_per_step" in r:
        s.update(_frames_summary(r))
    if "gradients_mean_field" in r:
        s["gradient_per_forward"] = {
            f"{row['cells']} cells, {row['frame']} frame": row["gradient_per_forward"]
            for row in r["gradients_mean_field"]
        }
        moving = min(r["gradients_mean_field"], key=lambda row: row["gradient_s"])
        s["particle_gradient_per_mean_field_gradient"] = {
            row["particles"]: row["gradient_s"] / moving["gradient_s"]
            for row in r["gradients_particles"]
        }
    return s


def _md_run(row):
    """'N cells, T s, L1 E' for a table cell."""
    return f"{row['cells']} cells, {row['wall_s']:.3g} s, L1 {row['l1']:.1e}"


def _md_equal_accuracy(label, e, peer, extra):
    """One row from `_at_peer_accuracy`; `extra(peer_row)` adds peer-specific detail."""
    if "peer_error" in e:
        return f"| {label} | | {peer} failed: {e['peer_error']} | n/a |"
    flag = "" if e["ours_reached_peer_l1"] else " (our best: its L1 not reached)"
    with_compile = (
        f" ({e['speedup_with_compile']:.0f}x with its compile)"
        if "speedup_with_compile" in e
        else ""
    )
    return (
        f"| {label} | {_md_run(e['ours'])}{flag} | {peer} {_md_run(e['peer'])}{extra(e['peer'])}"
        f" | {e['speedup']:.0f}x{with_compile} |"
    )


def _md_peer_rows(s):
    """The equal-accuracy rows against py-pde in 2-D and fplanck."""
    lines = []
    if "vlasov_2d_equal_accuracy" in s:
        lines.append(
            _md_equal_accuracy(
                "2-D Vlasov, equal accuracy (W = -I, Gaussian, t = 0.25)",
                s["vlasov_2d_equal_accuracy"],
                "py-pde",
                lambda p: f" (+{p['compile_s']:.2g} s compile)",
            )
        )
    if "fokker_planck_vs_fplanck" in s:
        lines.append(
            _md_equal_accuracy(
                "Fokker-Planck (OU), equal accuracy vs fplanck 0.2.2 (expm_multiply)",
                s["fokker_planck_vs_fplanck"],
                "fplanck",
                lambda p: f" (assembly {p['assembly_s']:.2g} s)",
            )
        )
    return lines


def _md_em_rows(s):
    """Two rows per dimension and size of the Euler-Maruyama comparison: the whole run, and
    the normals alone."""
    lines = []
    for key, e in s.get("particles_em", {}).items():
        lines.append(
            f"| Euler-Maruyama particles, tanh, 100 layers, K = 1, {key}, 2 threads vs numpy | "
            f"{e['ours_particle_steps_per_s'] / 1e6:.0f} M particle-steps/s | numpy EM "
            f"{e['numpy_particle_steps_per_s'] / 1e6:.0f} M/s | {e['speedup_vs_numpy']:.1f}x |"
        )
        if "ours_normals_per_s_1thread" in e:
            lines.append(
                f"| normals alone (Philox4x64-10 + Box-Muller in a kernel), {key}, 1 thread "
                f"vs rng.standard_normal | {e['ours_normals_per_s_1thread'] / 1e6:.0f} M/s "
                f"(2 threads {e['ours_normals_per_s_2threads'] / 1e6:.0f} M/s, "
                f"{e['normals_share_of_our_time']:.0%} of our EM time) | "
                f"{e['normals_per_s'] / 1e6:.0f} M/s | "
                f"{e['normals_speedup_vs_numpy_1thread']:.1f}x |"
            )
    return lines


def _md_scaling_rows(r):
    """ns per unit of work over sizes (ratio: last over first,
    1.0 = linear in size); 2 vs 1 thread speed-ups."""
    sc = r["summary"]["scaling"]
    lines = []
    series = [
        ("1-D Vlasov, time per cell-update, cells", sc["vlasov_1d_ns_per_cell_update"]),
        ("2-D Vlasov, time per cell-update, grid", sc["vlasov_2d_ns_per_cell_update"]),
    ]
    for name, kind in (
        ("particles_ns_per_particle_step", "deterministic"),
        ("particles_em_ns_per_particle_step", "Euler-Maruyama"),
    ):
        for key, values in sc.get(name, {}).items():
            series.append((f"particles ({kind}), {key}, time per particle-step, particles", values))
    for label, values in series:
        ns = list(values.values())
        lines.append(
            f"| scaling: {label} = {' / '.join(str(k) for k in values)} | "
            f"{' / '.join(f'{v:.3g}' for v in ns)} ns | | last/first {ns[-1] / ns[0]:.2f}x |"
        )
    lines += [
        f"| particles, tanh, 100 layers, {key}: 2 threads vs 1 thread | | | {ratio:.2f}x |"
        for key, ratio in sc["particles_speedup_2_vs_1_threads"].items()
    ]
    return lines


def _md_frames_rows(r, s):
    """The small problems of benchmarks/frames.py (tanh, w = -0.7, b = 1.4, T = 2)."""
    lines = []
    rows = {(row["cells"], row["frame"]): row for row in r.get("frames_per_step", [])}
    for cells, ratio in s.get("moving_per_fixed_step", {}).items():
        moving, fixed = rows[(cells, "moving")], rows[(cells, "fixed")]
        lines.append(
            f"| small problem (tanh, T = 2), {cells} cells, 1 thread: moving frame per step vs "
            f"fixed frame | moving {moving['step_s'] * 1e6:.1f} µs/step, "
            f"{moving['cell_stages_per_s'] / 1e6:.0f} M cell-stages/s | fixed "
            f"{fixed['step_s'] * 1e6:.1f} µs/step, {fixed['cell_stages_per_s'] / 1e6:.0f} M "
            f"cell-stages/s | {ratio:.2f}x |"
        )
    for frame, e in s.get("frames_equal_accuracy", {}).items():
        peer = e["pypde"]
        lines.append(
            f"| small problem (tanh, T = 2), smallest grid with L1 ≤ 1e-4, {frame} frame | "
            f"{_md_run(e['ours'])} | py-pde ({peer['scheme']}) {peer['cells']} cells, "
            f"{peer['wall_s']:.3g} s (+{peer['compile_s']:.2g} s compile), L1 "
            f"{peer['l1']:.1e}"
            + ("" if e["pypde_reached_1e-4"] else " (1e-4 not reached)")
            + f" | {e['speedup_vs_pypde']:.0f}x |"
        )
    return lines


def _md_pipeline_where(p, shown=8):
    """The warm run's critical path and its rules with the most summed job seconds."""
    where = p.get("warm_cache_where")
    if not where:
        return []
    path = where["critical_path_s"]
    rules = sorted(where["rules"].items(), key=lambda item: -item[1]["job_s"])[:shown]
    parts = "; ".join(
        f"{name} {row['jobs']} jobs {row['job_s']:.0f} s"
        + (f" ({row['critical_path_s'] / path:.0%} of the path)" if row["critical_path_s"] else "")
        for name, row in rules
    )
    lines = [f"| pipeline, warm: where the time goes (job seconds by rule) | {parts} | | "
             f"critical path {path:.0f} s of {p['warm_cache_s']:.0f} s |"]  # fmt: skip
    if floor := p.get("job_floor"):
        lines.append(
            "| pipeline: a job's process before any work (start-up, imports, first kernel) | "
            f"compute job {floor['compute_s']:.2f} s, figure job {floor['figure_s']:.2f} s | | "
            f"{floor['jobs']} jobs: {floor['pipeline_floor_s']:.0f} s on 2 cores |"
        )
    return lines


def markdown(r):
    s = r["summary"]
    e = s["vlasov_1d_equal_accuracy"]
    lines = [
        "| benchmark | ours | peer | ratio |",
        "|---|---|---|---|",
        f"| 1-D Vlasov, smallest grid with L1 ≤ 1e-4 (v = -x, bump, t = 1) | "
        f"{e['ours']['cells']} cells, {e['ours']['wall_s']:.3g} s, L1 {e['ours']['l1']:.1e} | "
        f"py-pde {e['pypde']['cells']} cells, {e['pypde']['wall_s']:.3g} s "
        f"(+{e['pypde']['compile_s']:.2g} s compile), L1 {e['pypde']['l1']:.1e}"
        + ("" if e["pypde_reached_1e-4"] else " (its best: 1e-4 not reached)")
        + f" | {e['speedup_vs_pypde']:.0f}x |",
    ]
    for row in r["vlasov_1d_pypde"]:
        if "error" in row:
            lines.append(
                f"| 1-D Vlasov, py-pde {row['cells']} cells | | {row['error']} "
                f"(so > {row['limit_s'] / e['ours']['wall_s']:.0f}x our L1 ≤ 1e-4 run) | |"
            )
    for n, ratio in s["vlasov_1d_numba_vs_numpy"].items():
        lines.append(f"| 1-D Vlasov solver vs numpy, same scheme, {n} | | | {ratio:.1f}x |")
    f = s["fokker_planck_equal_accuracy"]
    lines.append(
        f"| Fokker-Planck (OU), equal accuracy | {f['ours']['cells']} cells, "
        f"{f['ours']['wall_s']:.3g} s, L1 {f['ours']['l1']:.1e} | py-pde "
        f"{f['pypde']['cells']} cells, {f['pypde']['wall_s']:.3g} s, L1 "
        f"{f['pypde']['l1']:.1e} | {f['speedup_vs_pypde']:.0f}x |"
    )
    for key, ratio in s["particles_speedup_vs_numpy_2threads"].items():
        lines.append(
            f"| particles, tanh, 100 layers, {key}, 2 threads vs numpy | | | {ratio:.1f}x |"
        )
    for dim, frac in s["kernel_traffic_fraction_of_triad"].items():
        k = r["kernel_traffic"][dim]
        lines.append(
            f"| {dim[0]}-D Vlasov stage kernel traffic / triad (2 threads, "
            f"{r['kernel_traffic']['triad_GBps']:.1f} GB/s, best of "
            f"{r['kernel_traffic']['rounds']} alternating rounds), "
            f"{k['cells_out_of_cache']:.0e} cells "
            f"(out of cache) | {k['cell_stages_per_s'] / 1e6:.0f} M cell-stages/s, "
            f"{k['bytes_per_cell_stage']} B each: {k['GBps']:.1f} GB/s | in cache "
            f"({k['cells_in_cache']:.0e} cells): {k['in_cache_cell_stages_per_s'] / 1e6:.0f} M "
            f"cell-stages/s | {frac['moved']:.0%} ({frac['density_only']:.0%} counting the "
            f"density arrays only) |"
        )
    for row in r["vlasov_2d_ours"]:
        lines.append(
            f"| 2-D Vlasov {row['cells']} | {row['wall_s']:.3g} s, "
            f"{row['cell_updates_per_s'] / 1e6:.0f} M cell-stages/s, L1 {row['l1']:.1e} | | |"
        )
    lines += _md_peer_rows(s) + _md_em_rows(s) + _md_scaling_rows(r)
    if "pipeline" in r:
        p = r["pipeline"]
        lines.append(
            f"| pipeline `snakemake --cores 2` | cold numba cache {p['cold_cache_s']:.0f} s, "
            f"warm {p['warm_cache_s']:.0f} s | | |"
        )
        lines += _md_pipeline_where(p)
    for key, ratio in s.get("gradient_per_forward", {}).items():
        lines.append(
            f"| mean-field gradient (forward + adjoint), tanh, 2 segments, {key} | | "
            f"one forward solve | {ratio:.1f}x its cost |"
        )
    for m, ratio in s.get("particle_gradient_per_mean_field_gradient", {}).items():
        lines.append(
            f"| backpropagation, {m} particles, 100 layers, vs the fastest mean-field gradient "
            f"| | | {ratio:.2g}x its cost |"
        )
    lines += _md_frames_rows(r, s)
    for case, ratio in s.get("threads_2_vs_1", {}).items():
        before = ""
        if "always_parallel_alone" in ratio:
            before = (f" (parallel passes throughout: {ratio['always_parallel_alone']:.2f}x / "
                      f"{ratio['always_parallel_beside_busy_neighbour']:.2f}x)")  # fmt: skip
        lines.append(
            f"| {case}: 2 threads vs 1 thread (speed-up), alone / beside one busy process | | | "
            f"{ratio['alone']:.2f}x / {ratio['beside_busy_neighbour']:.2f}x{before} |"
        )
    return "\n".join(lines) + "\n"
