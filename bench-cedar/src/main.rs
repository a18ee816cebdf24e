//! pam-iam vs cedar-policy on the same scenarios.
//!
//!   bench-cedar compare [WARMUP_S] [MEASURE_S]   in-process, both engines interleaved
//!   bench-cedar gen DIR            writes DIR/iam-100/*.json, DIR/iam-1000/*.json,
//!                                  DIR/cedar-100.cedar, DIR/cedar-1000.cedar
//!   bench-cedar iam DIR/iam-100    fresh process: parse every *.json there + one decision
//!   bench-cedar cedar FILE.cedar   fresh process: parse + one decision
//!
//! The in-process harness is a small criterion-like loop (warm-up, then batches of
//! ~10 ms for the measurement time; median and min of the per-iteration batch means):
//! criterion as a dev-dependency changes feature unification and would rebuild
//! cedar-policy-core, which takes this shared 2-core machine a quarter of an hour.
use bench_cedar::{scenarios, *};
use std::hint::black_box;
use std::time::{Duration, Instant};
use std::{env, fs, path::Path};

struct Stat {
    median: f64,
    min: f64,
    samples: usize,
}

fn measure<R>(warm: Duration, time: Duration, mut f: impl FnMut() -> R) -> Stat {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < warm || n == 0 {
        black_box(f());
        n += 1;
    }
    let per = start.elapsed().as_nanos() as f64 / n as f64;
    let batch = ((10_000_000.0 / per) as u64).max(1);
    let mut samples = Vec::new();
    let t = Instant::now();
    while t.elapsed() < time || samples.len() < 5 {
        let s = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        samples.push(s.elapsed().as_nanos() as f64 / batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    Stat {
        median: samples[samples.len() / 2],
        min: samples[0],
        samples: samples.len(),
    }
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

fn compare(warm: Duration, time: Duration) {
    let ireq = iam_request();
    let creq = cedar_request();
    let entities = cedar_policy::Entities::empty();
    let docs_a = scenarios::iam_documents(10, 10);
    let text_a = scenarios::cedar_policies(10, 10);
    let docs_b = scenarios::iam_documents_one_per_rule(100, 10);
    let text_b = scenarios::cedar_policies(100, 10);
    let set_a = iam_load(&docs_a);
    let ps_a = cedar_load(&text_a);
    let set_b = iam_load(&docs_b);
    let ps_b = cedar_load(&text_b);
    assert!(pam_iam::policy::evaluate(&set_a, &ireq).is_allowed());
    assert!(cedar_decide(&ps_a, &creq, &entities));
    assert!(pam_iam::policy::evaluate(&set_b, &ireq).is_allowed());
    assert!(cedar_decide(&ps_b, &creq, &entities));
    let six = scenarios::six_kb_policy();
    let mut cedar_six = String::new();
    for chunk in text_a.split_inclusive("};\n") {
        if cedar_six.len() + chunk.len() > six.len() {
            break;
        }
        cedar_six.push_str(chunk);
    }
    assert!(pam_iam::policy::Policy::parse(&six, pam_iam::policy::PolicyKind::Managed).is_ok());
    println!(
        "scenario                                   pam-iam (median / min)      cedar 4.14 (median / min)   cedar/pam-iam"
    );
    let row = |name: &str, ours: Stat, theirs: Stat| {
        println!(
            "{name:<42} {:>10} / {:>10}     {:>10} / {:>10}     {:>6.1}x   ({} / {} samples)",
            show(ours.median),
            show(ours.min),
            show(theirs.median),
            show(theirs.min),
            theirs.median / ours.median,
            ours.samples,
            theirs.samples
        );
    };
    row(
        "(a) decide, 10 policies x 10 statements",
        measure(warm, time, || pam_iam::policy::evaluate(&set_a, &ireq)),
        measure(warm, time, || cedar_decide(&ps_a, &creq, &entities)),
    );
    row(
        "(b) decide, 1,000 policies",
        measure(warm, time, || pam_iam::policy::evaluate(&set_b, &ireq)),
        measure(warm, time, || cedar_decide(&ps_b, &creq, &entities)),
    );
    row(
        &format!("(c) parse + validate {} B", six.len()),
        measure(warm, time, || {
            pam_iam::policy::Policy::parse(black_box(&six), pam_iam::policy::PolicyKind::Managed)
        }),
        measure(warm, time, || {
            black_box(&cedar_six).parse::<cedar_policy::PolicySet>()
        }),
    );
    row(
        "(d) parse all + decide, 10 x 10",
        measure(warm, time, || {
            pam_iam::policy::evaluate(&iam_load(black_box(&docs_a)), &ireq)
        }),
        measure(warm, time, || {
            cedar_decide(&cedar_load(black_box(&text_a)), &creq, &entities)
        }),
    );
    row(
        "(d) parse all + decide, 1,000 policies",
        measure(warm, time, || {
            pam_iam::policy::evaluate(&iam_load(black_box(&docs_b)), &ireq)
        }),
        measure(warm, time, || {
            cedar_decide(&cedar_load(black_box(&text_b)), &creq, &entities)
        }),
    );
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
            let ps = cedar_load(&text);
            let ok = cedar_decide(&ps, &cedar_request(), &cedar_policy::Entities::empty());
            println!("{}", if ok { "allowed" } else { "denied" });
        }
        (Some("nothing"), _) => println!("-"),
        _ => eprintln!(
            "usage: bench-cedar compare [WARMUP_S MEASURE_S] | gen DIR | iam DIR | cedar FILE"
        ),
    }
}
