//! The exit codes of `dtcost`, one per kind of outcome (what `--help` and the README list), and
//! the failure that carries its kind to `main` along with the error for people.

/// How a `dtcost` command ended. 2 is for configuration and command line errors only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every export succeeded and every event was accepted.
    Success,
    /// An account or cluster failed, or events were not sent or were refused (the summary says
    /// which); or another run holds the state file (nothing was sent: try again later).
    ExportFailed,
    /// The configuration or the command line is wrong (nothing was exported).
    Usage,
    /// The embedded component could not be compiled or started (nothing was exported).
    Component,
    /// The state file cannot be read or locked (damaged, from a newer dtcost, or not accessible):
    /// nothing was exported.
    State,
    /// An output could not be written (the report page, the events on stdout, the simulator's
    /// files) or the simulator could not start.
    Output,
}

impl Exit {
    /// Every exit code, in order.
    pub const ALL: [Exit; 6] =
        [Exit::Success, Exit::ExportFailed, Exit::Usage, Exit::Component, Exit::State, Exit::Output];

    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::ExportFailed => 1,
            Exit::Usage => 2,
            Exit::Component => 3,
            Exit::State => 4,
            Exit::Output => 5,
        }
    }

    /// What the code means, for `--help`.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "every export succeeded and every event was accepted",
            Exit::ExportFailed => {
                "an account or cluster failed, or events were not sent or were refused (the summary says which); \
                 or another run holds the state file (nothing was sent)"
            }
            Exit::Usage => "the configuration or the command line is wrong (nothing was exported)",
            Exit::Component => "the embedded component could not be compiled or started (nothing was exported)",
            Exit::State => {
                "the state file cannot be read or locked (damaged, from a newer dtcost, or not accessible; nothing \
                 was exported)"
            }
            Exit::Output => "the report page or another output could not be written, or the simulator could not start",
        }
    }

    /// The `Exit codes:` section of `--help`.
    pub fn help() -> String {
        let mut text = String::from("Exit codes:");
        for exit in Exit::ALL {
            text.push_str(&format!("\n  {}  {}", exit.code(), exit.meaning()));
        }
        text
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// A command that could not finish: why (for people) and its kind (the exit code).
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub error: anyhow::Error,
}

/// Gives an error its exit code: `result.or_exit(Exit::Component)?`.
pub trait OrExit<T> {
    fn or_exit(self, exit: Exit) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> OrExit<T> for Result<T, E> {
    fn or_exit(self, exit: Exit) -> Result<T, Failure> {
        self.map_err(|error| Failure { exit, error: error.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exit_code_is_distinct_and_listed_in_the_help() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|exit| exit.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5]);
        let help = Exit::help();
        for exit in Exit::ALL {
            assert!(help.contains(&format!("  {}  {}", exit.code(), exit.meaning())), "{help}");
        }
    }
}
