// The browser wallet of the suite's fan-page checks: an EIP-1193 `window.ethereum` that sends
// every request to a node's JSON-RPC as `fan` (an account the node holds unlocked: anvil's or
// the devnet's), estimating a transaction's gas when the page gives none, as a wallet does.
// `window.walletCalls` lists the methods the page asked for.
export async function installDevWallet(browser, { rpc, fan }) {
  await browser.addInitScript(({ rpc, fan }) => {
    window.walletCalls = [];
    let id = 0;
    const call = async (method, params) => {
      const response = await fetch(rpc, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params || [] }),
      });
      const body = await response.json();
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code });
      return body.result;
    };
    window.ethereum = {
      async request({ method, params }) {
        window.walletCalls.push(method);
        if (method === "eth_requestAccounts") return [fan];
        if (method === "eth_sendTransaction" && !params[0].gas) {
          const gas = await call("eth_estimateGas", [params[0]]);
          params = [{ ...params[0], gas: "0x" + Math.ceil(Number(gas) * 1.2).toString(16) }];
        }
        return call(method, params);
      },
    };
  }, { rpc, fan });
}
