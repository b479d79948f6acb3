// polyfill.mjs: Promise.withResolvers (ES2024) for Node 20.
//
// mortice@3.3.1 (the only release that @libp2p/peer-store@11.2.x, and so
// libp2p@2.9.0, accepts) and its it-queue call Promise.withResolvers, which
// Node 20's V8 lacks (Node 22 has it). peer.mjs imports this module first so
// that it runs before any library module is evaluated. It is a no-op on
// Node 22 and later.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve
      let reject
      const promise = new this((res, rej) => {
        resolve = res
        reject = rej
      })
      return { promise, resolve, reject }
    }
  })
}
