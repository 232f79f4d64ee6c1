use std::process::ExitCode;

use clap::Parser;

use awsconn::cli::{Cli, Command};
use awsconn::commands::{self, EXIT_INVALID};

fn main() -> ExitCode {
    awsconn::process::limit_malloc_arenas();
    let cli = Cli::parse();
    awsconn::logging::init(cli.global.log_level, cli.global.log_format);
    let command = cli.command.clone().unwrap_or(Command::Serve);

    if let Command::Classify { files, format } = &command {
        return report(commands::classify(files, *format));
    }

    let config = match commands::load_config(&cli.global) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("invalid configuration: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    // The web configuration, for the commands that serve or check it.
    let web = if matches!(command, Command::Serve | Command::CheckConfig) {
        match commands::load_web_config(&cli.global) {
            Ok(web) => Some(web),
            Err(e) => {
                eprintln!("invalid web configuration: {e}");
                return ExitCode::from(EXIT_INVALID);
            }
        }
    } else {
        None
    };
    // Commands that need no AWS and no runtime.
    match &command {
        Command::CheckConfig => return report(commands::check_config(&config, web.as_deref())),
        Command::IamPolicy => return report(commands::iam_policy(&config)),
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Serve => {
                let web = web.expect("loaded for serve above");
                commands::serve(&cli.global, config, web).await
            }
            Command::Once => commands::once(config).await,
            Command::Diagnose { vpc_link, output } => {
                commands::diagnose(config, vpc_link.as_deref(), output).await
            }
            Command::Classify { .. } | Command::CheckConfig | Command::IamPolicy => {
                unreachable!("handled above")
            }
        }
    });
    // Work left on blocking threads (a bcrypt comparison, a DNS lookup)
    // gets a moment, not a say in when the process ends.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    report(result)
}

fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        // The reader of stdout went away (`| head`): nothing more to say.
        if commands::is_closed_stdout(&e) {
            return ExitCode::SUCCESS;
        }
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}
