// UI helpers
function onceThenWait(fn, delay) {
  let timer = null;
  let pending = null;
  return function debounced(...args) {
    pending = args;
    if (timer === null) {
      fn.apply(this, args);
    }
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      pending = null;
    }, delay);
  };
}

export { onceThenWait };
