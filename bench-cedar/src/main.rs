//! Fresh-process cold path: read policy files, parse them, decide once, print the result.
//!
//!   bench-cedar gen DIR            writes DIR/iam-100/*.json, DIR/iam-1000/*.json,
//!                                  DIR/cedar-100.cedar, DIR/cedar-1000.cedar
//!   bench-cedar iam DIR/iam-100    parse every *.json there + one decision
//!   bench-cedar cedar FILE.cedar   parse + one decision
use bench_cedar::{scenarios, *};
use std::{env, fs, path::Path};

fn main() {
    let args: Vec<String> = env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
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
            fs::write(dir.join("cedar-100.cedar"), scenarios::cedar_policies(10, 10)).expect("write");
            fs::write(dir.join("cedar-1000.cedar"), scenarios::cedar_policies(100, 10)).expect("write");
        }
        (Some("iam"), Some(dir)) => {
            let mut files: Vec<_> = fs::read_dir(dir).expect("dir").flatten().map(|e| e.path()).collect();
            files.sort();
            let docs: Vec<String> = files.iter().map(|f| fs::read_to_string(f).expect("read")).collect();
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
        _ => eprintln!("usage: bench-cedar gen DIR | iam DIR | cedar FILE"),
    }
}
