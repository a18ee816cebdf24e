//! pam-iam vs cedar-policy on the same scenarios.
//!
//!   bench-cedar compare [WARMUP_S] [MEASURE_S]   in-process, the engines interleaved
//!   bench-cedar gen DIR            writes DIR/iam-100/*.json, DIR/iam-1000/*.json,
//!                                  DIR/cedar-100.cedar, DIR/cedar-1000.cedar
//!   bench-cedar iam DIR/iam-100    fresh process: parse + validate every *.json there,
//!                                  one decision
//!   bench-cedar cedar FILE.cedar   fresh process: parse the schema, parse + validate
//!                                  the policies, one decision
//!
//! The in-process harness is a small criterion-like loop: a warm-up of both engines
//! sizes a batch of ~5 ms for each, then batches alternate (pam-iam, Cedar, pam-iam,
//! Cedar, ...) for twice the measurement time, so both engines see the same machine
//! load; each row reports the median and the minimum of the per-iteration batch means.
//! (criterion as a dev-dependency here would change feature unification and rebuild
//! cedar-policy-core.)
use bench_cedar::{scenarios, scenarios::Services, *};
use std::hint::black_box;
use std::time::{Duration, Instant};
use std::{env, fs, path::Path};

struct Stat {
    median: f64,
    min: f64,
    samples: usize,
}

impl Stat {
    fn of(mut samples: Vec<f64>) -> Stat {
        samples.sort_by(f64::total_cmp);
        Stat {
            median: samples[samples.len() / 2],
            min: samples[0],
            samples: samples.len(),
        }
    }
}

/// Iterations of `f` that take about `target` (at least one), measured over `warm`.
fn batch_size<R>(warm: Duration, target: Duration, f: &mut impl FnMut() -> R) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < warm || n == 0 {
        black_box(f());
        n += 1;
    }
    let per = start.elapsed().as_nanos() as f64 / n as f64;
    ((target.as_nanos() as f64 / per) as u64).max(1)
}

fn batch<R>(n: u64, f: &mut impl FnMut() -> R) -> f64 {
    let s = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    s.elapsed().as_nanos() as f64 / n as f64
}

/// Both engines, batch by batch in turn (A B A B ...), for `2 × time` in all.
fn measure_pair<R1, R2>(
    warm: Duration,
    time: Duration,
    mut ours: impl FnMut() -> R1,
    mut theirs: impl FnMut() -> R2,
) -> (Stat, Stat) {
    let target = Duration::from_millis(5);
    let half = warm / 2;
    let na = batch_size(half, target, &mut ours);
    let nb = batch_size(half, target, &mut theirs);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let t = Instant::now();
    while t.elapsed() < time * 2 || a.len() < 5 {
        a.push(batch(na, &mut ours));
        b.push(batch(nb, &mut theirs));
    }
    (Stat::of(a), Stat::of(b))
}

fn show(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

fn row(name: &str, (ours, theirs): (Stat, Stat)) {
    println!(
        "{name:<54} {:>10} / {:>10}   {:>10} / {:>10}   {:>7.1}x  ({} pairs)",
        show(ours.median),
        show(ours.min),
        show(theirs.median),
        show(theirs.min),
        theirs.median / ours.median,
        ours.samples.min(theirs.samples)
    );
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn compare(warm: Duration, time: Duration) {
    use pam_iam::policy::{Policy, PolicyKind, evaluate};
    let ireq = iam_request();
    let creq = cedar_request();
    let entities = cedar_policy::Entities::empty();
    let validator = cedar_validator();

    let docs_a = scenarios::iam_documents(10, 10);
    let text_a = scenarios::cedar_policies(10, 10);
    let docs_b = scenarios::iam_documents_one_per_rule(100, 10);
    let text_b = scenarios::cedar_policies(100, 10);
    let docs_one = scenarios::iam_documents_one_per_rule_in(Services::One, 100, 10);
    let text_one = scenarios::cedar_policies_in(Services::One, 100, 10);
    let (set_a, ps_a) = (iam_load(&docs_a), cedar_load(&text_a, &validator));
    let (set_b, ps_b) = (iam_load(&docs_b), cedar_load(&text_b, &validator));
    let (set_one, ps_one) = (iam_load(&docs_one), cedar_load(&text_one, &validator));
    let (by_b, by_one) = (CedarByAction::new(&ps_b), CedarByAction::new(&ps_one));
    for (set, ps) in [(&set_a, &ps_a), (&set_b, &ps_b), (&set_one, &ps_one)] {
        assert!(evaluate(set, &ireq).is_allowed());
        assert!(cedar_decide(ps, &creq, &entities));
    }
    assert!(cedar_decide(
        by_b.for_action("host:Login"),
        &creq,
        &entities
    ));
    assert!(cedar_decide(
        by_one.for_action("host:Login"),
        &creq,
        &entities
    ));
    let six = scenarios::six_kb_policy();
    let cedar_six = scenarios::cedar_six_kb_policies();
    let six_policy = Policy::parse(&six, PolicyKind::Managed).expect("six kb parses");
    let six_cedar = cedar_load(&cedar_six, &validator);
    assert_eq!(six_policy.statement_count(), six_cedar.policies().count());

    println!(
        "bench-cedar compare {} {}: load average {} at start",
        warm.as_secs_f64(),
        time.as_secs_f64(),
        loadavg()
    );
    println!(
        "{:<54} {:>23}   {:>23}   {:>8}",
        "scenario", "pam-iam median / min", "cedar 4.14 median / min", "cedar/us"
    );
    row(
        "(a) decide, 10 policies x 10 statements",
        measure_pair(
            warm,
            time,
            || evaluate(&set_a, &ireq),
            || cedar_decide(&ps_a, &creq, &entities),
        ),
    );
    row(
        "(b) decide, 1,000 policies",
        measure_pair(
            warm,
            time,
            || evaluate(&set_b, &ireq),
            || cedar_decide(&ps_b, &creq, &entities),
        ),
    );
    row(
        &format!(
            "(b1) decide, 1,000, Cedar pre-filtered by action ({})",
            by_b.len_for("host:Login")
        ),
        measure_pair(
            warm,
            time,
            || evaluate(&set_b, &ireq),
            || cedar_decide(by_b.for_action(black_box("host:Login")), &creq, &entities),
        ),
    );
    row(
        "(b2) decide, 1,000, every action in one service",
        measure_pair(
            warm,
            time,
            || evaluate(&set_one, &ireq),
            || cedar_decide(&ps_one, &creq, &entities),
        ),
    );
    row(
        &format!(
            "(b3) = (b2), Cedar pre-filtered by action ({})",
            by_one.len_for("host:Login")
        ),
        measure_pair(
            warm,
            time,
            || evaluate(&set_one, &ireq),
            || cedar_decide(by_one.for_action(black_box("host:Login")), &creq, &entities),
        ),
    );
    row(
        &format!(
            "(c) parse + validate the same {} rules",
            six_policy.statement_count()
        ),
        measure_pair(
            warm,
            time,
            || Policy::parse(black_box(&six), PolicyKind::Managed),
            || cedar_load(black_box(&cedar_six), &validator),
        ),
    );
    row(
        "(c1) = (c), Cedar without its validator",
        measure_pair(
            warm,
            time,
            || Policy::parse(black_box(&six), PolicyKind::Managed),
            || cedar_parse(black_box(&cedar_six)),
        ),
    );
    for (name, docs, text) in [
        ("10 x 10", &docs_a, &text_a),
        ("1,000 policies", &docs_b, &text_b),
    ] {
        row(
            &format!("(d) parse + validate all + decide, {name}"),
            measure_pair(
                warm,
                time,
                || evaluate(&iam_load(black_box(docs)), &ireq),
                || cedar_decide(&cedar_load(black_box(text), &validator), &creq, &entities),
            ),
        );
    }
    println!("load average {} at end", loadavg());
}

fn main() {
    let args: Vec<String> = env::args().collect();
    let secs = |i: usize, d: f64| {
        Duration::from_secs_f64(args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d))
    };
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("compare"), _) => compare(secs(2, 1.0), secs(3, 3.0)),
        (Some("gen"), Some(dir)) => {
            let dir = Path::new(dir);
            for (name, docs) in [
                ("iam-100", scenarios::iam_documents(10, 10)),
                ("iam-1000", scenarios::iam_documents_one_per_rule(100, 10)),
            ] {
                let d = dir.join(name);
                fs::create_dir_all(&d).expect("mkdir");
                for (i, doc) in docs.iter().enumerate() {
                    fs::write(d.join(format!("{i:04}.json")), doc).expect("write");
                }
            }
            fs::write(
                dir.join("cedar-100.cedar"),
                scenarios::cedar_policies(10, 10),
            )
            .expect("write");
            fs::write(
                dir.join("cedar-1000.cedar"),
                scenarios::cedar_policies(100, 10),
            )
            .expect("write");
        }
        (Some("iam"), Some(dir)) => {
            let mut files: Vec<_> = fs::read_dir(dir)
                .expect("dir")
                .flatten()
                .map(|e| e.path())
                .collect();
            files.sort();
            let docs: Vec<String> = files
                .iter()
                .map(|f| fs::read_to_string(f).expect("read"))
                .collect();
            let set = iam_load(&docs);
            let d = pam_iam::policy::evaluate(&set, &iam_request());
            println!("{}", d.effect.as_aws_str());
        }
        (Some("cedar"), Some(file)) => {
            let text = fs::read_to_string(file).expect("read");
            let ps = cedar_load(&text, &cedar_validator());
            let ok = cedar_decide(&ps, &cedar_request(), &cedar_policy::Entities::empty());
            println!("{}", if ok { "allowed" } else { "denied" });
        }
        (Some("nothing"), _) => println!("-"),
        _ => eprintln!(
            "usage: bench-cedar compare [WARMUP_S MEASURE_S] | gen DIR | iam DIR | cedar FILE"
        ),
    }
}
