use sentinel::{Context, Denied, SentinelClient};

// A Context sent as an argument would not be the context the call is checked under.
#[sentinel::guarded(policy = "p")]
fn act(ctx: &Context, n: u8) -> Result<u8, Denied> {
    let _ = ctx;
    Ok(n)
}

// skip(client) would silently ask through the global client.
#[sentinel::guarded(policy = "p")]
fn ask(client: &SentinelClient, n: u8) -> Result<u8, Denied> {
    let _ = client;
    Ok(n)
}

fn main() {}
