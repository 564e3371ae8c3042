//! `releasectl_demo`: the artifact releasectl's tests and CI examples deploy — a tiny HTTP
//! service on `127.0.0.1:$PORT` (the port the local-process target hands it).
//!
//! - `GET /` answers `200 <name> <version>` (`--name`, default `demo`; the version from
//!   `--version` or `RELEASE_VERSION`, which the process target sets);
//! - `GET /healthz` answers `200 ok`, or `500 unhealthy` when started with `--unhealthy`
//!   (a "bad build" whose health probe fails, so the release rolls back);
//! - anything else answers 404.
//!
//! Standard library only, one thread per connection; `SIGTERM` ends it (the default action).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

struct Service {
    name: String,
    version: String,
    unhealthy: bool,
}

fn arg_value(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn answer(service: &Service, stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers: the answer depends on the path alone.
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/" => ("200 OK", format!("{} {}\n", service.name, service.version)),
        "/healthz" if service.unhealthy => ("500 Internal Server Error", "unhealthy\n".to_owned()),
        "/healthz" => ("200 OK", "ok\n".to_owned()),
        _ => ("404 Not Found", "not found\n".to_owned()),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = arg_value(&args, "--port")
        .or_else(|| std::env::var("PORT").ok())
        .unwrap_or_else(|| {
            eprintln!("releasectl_demo: no port; set PORT or pass --port N");
            std::process::exit(2)
        });
    let service = std::sync::Arc::new(Service {
        name: arg_value(&args, "--name").unwrap_or_else(|| "demo".to_owned()),
        version: arg_value(&args, "--version")
            .or_else(|| std::env::var("RELEASE_VERSION").ok())
            .unwrap_or_else(|| "0.0.0".to_owned()),
        unhealthy: args.iter().any(|a| a == "--unhealthy"),
    });
    let listener = match TcpListener::bind(format!("127.0.0.1:{port}")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("releasectl_demo: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1)
        }
    };
    println!(
        "{} {} listening on 127.0.0.1:{port}{}",
        service.name,
        service.version,
        if service.unhealthy {
            " (unhealthy)"
        } else {
            ""
        }
    );
    for stream in listener.incoming().flatten() {
        let service = service.clone();
        std::thread::spawn(move || {
            let _ = answer(&service, stream);
        });
    }
}
