//! `wisp new <template> <name>`: writes a project from one of the templates
//! embedded in the binary (`templates/<template>/`, see server/build.rs):
//! a function answering HTTP, its build, a `wisp.toml` with an HTTP route,
//! a README. `{{name}}` in every file becomes the project's name.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

include!(concat!(env!("OUT_DIR"), "/templates.rs"));

/// Templates that cannot be offered here, and why.
const UNAVAILABLE: &[(&str, &str)] = &[(
    "go",
    "TinyGo (which builds Go into a wasi:http component) is not installable from the \
     package registries this build supports (Debian, PyPI, npm, crates.io); use rust, python or js",
)];

#[derive(Args, Debug)]
pub struct NewArgs {
    /// `rust` (wstd), `python` (componentize-py) or `js` (componentize-js).
    pub template: String,
    /// The project's name: its folder, its application and its function
    /// (1-64 lower-case letters, digits, `-` or `_`, starting with a letter).
    pub name: String,
    /// Where to create the project (default: ./NAME).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The names of the templates embedded in this binary.
fn templates() -> Vec<&'static str> {
    let mut names: Vec<&str> = TEMPLATE_FILES.iter().map(|(t, _, _)| *t).collect();
    names.dedup();
    names
}

/// Whether `name` can be a project (and so an application and function) name.
fn check_name(name: &str) -> anyhow::Result<()> {
    model::validate_function_name(name).map_err(anyhow::Error::msg)?;
    let mut chars = name.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_is_letter || name.chars().any(|c| c.is_ascii_uppercase()) {
        bail!("a project name starts with a lower-case letter and has no capitals: {name:?}");
    }
    Ok(())
}

pub async fn new(args: NewArgs) -> anyhow::Result<()> {
    if let Some((_, why)) = UNAVAILABLE.iter().find(|(t, _)| *t == args.template) {
        bail!("no {} template: {why}", args.template);
    }
    let available = templates();
    if !available.contains(&args.template.as_str()) {
        bail!(
            "no template {:?}; choose one of: {}",
            args.template,
            available.join(", ")
        );
    }
    check_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() && !dir.is_dir() {
        bail!("{} exists and is not a folder", dir.display());
    }
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!("{} exists and is not empty", dir.display());
    }
    let mut written = 0;
    for (_, path, bytes) in TEMPLATE_FILES
        .iter()
        .filter(|(t, _, _)| *t == args.template)
    {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let content = match std::str::from_utf8(bytes) {
            Ok(text) => text.replace("{{name}}", &args.name).into_bytes(),
            Err(_) => bytes.to_vec(),
        };
        std::fs::write(&target, content)
            .with_context(|| format!("writing {}", target.display()))?;
        written += 1;
    }
    println!(
        "Created {} ({} template, {written} files).",
        dir.display(),
        args.template
    );
    println!("Next:");
    println!("  cd {}", dir.display());
    println!("  wisp dev        # build, run on a local server, reload on every change");
    println!("  wisp apply      # or deploy to the server in WISP_URL");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_a_manifest_naming_its_function_and_a_readme() {
        let names = templates();
        for template in ["rust", "python", "js"] {
            assert!(names.contains(&template), "{names:?}");
            let file = |name: &str| {
                TEMPLATE_FILES
                    .iter()
                    .find(|(t, p, _)| *t == template && *p == name)
                    .map(|(_, _, b)| std::str::from_utf8(b).unwrap().replace("{{name}}", "demo"))
            };
            let manifest: crate::cli::manifest::ManifestFile =
                toml::from_str(&file("wisp.toml").expect("wisp.toml")).unwrap();
            assert_eq!(manifest.application, "demo");
            assert!(manifest.functions.contains_key("demo"), "{template}");
            assert!(file("README.md").is_some(), "{template}");
        }
    }

    #[test]
    fn project_names_are_checked() {
        assert!(check_name("demo-app").is_ok());
        assert!(check_name("Demo").is_err());
        assert!(check_name("1demo").is_err());
        assert!(check_name("").is_err());
    }
}
