//! `nipc connect ENDPOINT`: a client that prints what it receives and sends its stdin.

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use ipc_codec::CodecError;
use tracing::Instrument as _;

use crate::args::Settings;
use crate::lines::{Line, Printer, StdinLines};
use crate::message::{Incoming, Mode, Outgoing};
use crate::report::{note, Failure};
use crate::wire::{self, Framed, Link, Udp, WireCodec, LINGER};

/// Runs `nipc connect`: exits (Ok) once stdin has ended and everything is written.
pub(crate) async fn run(settings: &Settings) -> Result<(), Failure> {
    let printer = Printer::start();
    let result = match wire::connect(settings).await? {
        Link::Stream(framed) => {
            let span = crate::diagnostics::client_connection(framed.get_ref().peer());
            span.in_scope(crate::diagnostics::connected);
            let served = async {
                let result = stream(&settings.mode, framed, &printer).await;
                let reason = result.as_ref().err().map(|f| f as &dyn std::fmt::Display);
                crate::diagnostics::disconnected(reason);
                result
            };
            served.instrument(span).await
        }
        Link::Udp(udp, target) => datagrams(&settings.mode, udp, target, &printer).await,
    };
    printer.flush().await;
    result
}

/// Checks a stdin line before it is queued: `"to"` has no meaning here, and
/// an event the codec refuses (profile rules) is reported instead of ending the link.
fn accept_line(codec: &WireCodec, number: usize, line: &Line) -> bool {
    if line.to.is_some() {
        note!("stdin line {number}: \"to\" applies to nipc serve only; skipped");
        return false;
    }
    if let Err(e) = codec.check(&line.message) {
        note!("stdin line {number}: {e}; skipped");
        return false;
    }
    true
}

fn stdin_failed(e: std::io::Error) -> Failure {
    Failure::runtime(format!("cannot read stdin: {e}"))
}

/// Prints every item until the stream ends; `Err` for a read error.
pub(crate) async fn print_all<S>(incoming: &mut S, mode: &Mode, printer: &Printer) -> Result<(), CodecError>
where
    S: futures::Stream<Item = Result<Incoming, CodecError>> + Unpin,
{
    while let Some(item) = incoming.next().await {
        printer.show(&item?, mode, None).await;
    }
    Ok(())
}

async fn stream(mode: &Mode, framed: Framed, printer: &Printer) -> Result<(), Failure> {
    let codec = WireCodec::new(mode);
    let (sink, mut incoming) = framed.split();
    let (tx, writer) = ipc_transport::batch_writer(sink, 256);
    let input = async move {
        let mut stdin = StdinLines::new(mode);
        while let Some((number, line)) = stdin.next().await? {
            if accept_line(&codec, number, &line) && tx.send(line.message).await.is_err() {
                break; // the writer has stopped; it reports why
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let output = async {
        let mut sink = writer.run().await?;
        sink.close().await
    };
    let sending = async {
        let (read, written) = tokio::join!(input, output);
        written.map_err(|e| Failure::runtime(format!("connection lost: {e}")))?;
        read.map_err(stdin_failed)
    };
    tokio::select! {
        biased;
        sent = sending => sent?,
        read = print_all(&mut incoming, mode, printer) => {
            return Err(match read {
                Ok(()) => Failure::runtime("the server closed the connection"),
                Err(e) => Failure::runtime(format!("connection lost: {e}")),
            });
        }
    }
    // Our side is closed; a node-ipc server closes its own once it has seen
    // that, so what it still had to say arrives before the end.
    let _ = tokio::time::timeout(LINGER, print_all(&mut incoming, mode, printer)).await;
    Ok(())
}

async fn datagrams(mode: &Mode, udp: Box<Udp>, target: SocketAddr, printer: &Printer) -> Result<(), Failure> {
    let codec = WireCodec::new(mode);
    let (mut sink, mut incoming) = (*udp).split::<(Outgoing, SocketAddr)>();
    let input = async {
        let mut stdin = StdinLines::new(mode);
        while let Some((number, line)) = stdin.next().await.map_err(stdin_failed)? {
            if accept_line(&codec, number, &line) {
                if let Err(e) = sink.send((line.message, target)).await {
                    note!("stdin line {number}: {e}; skipped");
                }
            }
        }
        Ok(())
    };
    let reader = async {
        loop {
            match incoming.next().await {
                Some(Ok((item, _from))) => printer.show(&item, mode, None).await,
                Some(Err(e)) if e.is_connection_error() => note!("{e}"),
                Some(Err(e)) => return Failure::runtime(format!("socket failed: {e}")),
                None => return Failure::runtime("the socket closed"),
            }
        }
    };
    tokio::select! {
        biased;
        sent = input => sent,
        failure = reader => Err(failure),
    }
}
