/// The page's inline style and script: no fonts, files or network, so the report works offline.
enum PageAssets {
    static let css = """
    body{font:14px/1.4 "DejaVu Sans",Arial,sans-serif;margin:24px;color:#222;background:#fff}
    h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
    dl.head{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:0}dl.head dt{color:#666}dl.head dd{margin:0}
    table{border-collapse:collapse;font-size:12.5px}th,td{padding:3px 7px;border-bottom:1px solid #eee;white-space:nowrap}
    th{background:#f3f5f8;position:sticky;top:0;text-align:left}table.sortable th{cursor:pointer;user-select:none}
    th[data-dir=asc]::after{content:" \\25B2"}th[data-dir=desc]::after{content:" \\25BC"}
    td.num{text-align:right;font-variant-numeric:tabular-nums}td.bad{color:#b00;font-weight:bold}
    tr.layer{cursor:pointer}tr.layer:hover{background:#f7f7ff}tr.sel{background:#e6efff}
    .charts{display:flex;flex-wrap:wrap;gap:24px}.chart{flex:0 0 auto}.chart h3{font-size:14px;margin:8px 0}
    svg{background:#fff;border:1px solid #e3e3e3}svg text{font:11px "DejaVu Sans",Arial,sans-serif;fill:#333}
    .grid{stroke:#eee}.axis{stroke:#555;fill:none}.label{font-size:12px}.note{font-size:11px;fill:#000}
    .front{stroke:#0072B2;fill:none;stroke-width:1.5;stroke-dasharray:4 3}.ours{fill:#0072B2}.ort{fill:#E69F00}.float{fill:#888}
    .chosen{fill:none;stroke:#000;stroke-width:2}.series{fill:none;stroke-width:1.5}
    .hbar{fill:#8fb3d9;stroke:#4f7fb0;stroke-width:.5}.gridq{stroke:#d00;stroke-width:.6;opacity:.55}
    .legend{font-size:12px;margin:4px 0}.legend span{margin-right:14px}
    .mark{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
    .mark.dot{border-radius:50%}.mark.ring{border-radius:50%;border:2px solid #000;width:8px;height:8px}
    .mark.diamond{transform:rotate(45deg) scale(.8)}
    .nodata{color:#666;font-style:italic;border:1px dashed #ccc;padding:24px;width:500px;background:#fafafa}
    .caption{font-size:12px;color:#444;max-width:560px}.scroll{overflow-x:auto;max-height:640px}
    """

    /// Sorting by clicking a header (numbers by `data-v`, then graph order), selecting a layer
    /// by clicking its row or from the list (shows its histogram).
    static let script = """
    function sortTable(th){
      const t=th.closest('table'),i=[...th.parentNode.cells].indexOf(th),tb=t.tBodies[0];
      const desc=th.dataset.dir==='asc';t.querySelectorAll('th').forEach(h=>delete h.dataset.dir);
      th.dataset.dir=desc?'desc':'asc';const num=th.dataset.type==='num';
      const rows=[...tb.rows];rows.sort((a,b)=>{
        const x=a.cells[i].dataset.v,y=b.cells[i].dataset.v,o=a.dataset.i-b.dataset.i;
        if(x===undefined||y===undefined)return x===y?o:(x===undefined?1:-1);
        let c=num?parseFloat(x)-parseFloat(y):x.localeCompare(y);if(c===0||isNaN(c))return o;return desc?-c:c;});
      rows.forEach(r=>tb.appendChild(r));
    }
    function selectLayer(i){
      i=String(i);document.querySelectorAll('.hist').forEach(h=>{h.hidden=h.dataset.i!==i;});
      document.querySelectorAll('tr.layer').forEach(r=>r.classList.toggle('sel',r.dataset.i===i));
      const s=document.getElementById('layer-select');if(s)s.value=i;
    }
    document.querySelectorAll('table.sortable th').forEach(th=>th.addEventListener('click',()=>sortTable(th)));
    document.querySelectorAll('tr.layer').forEach(r=>r.addEventListener('click',()=>selectLayer(r.dataset.i)));
    const sel=document.getElementById('layer-select');if(sel){sel.addEventListener('change',()=>selectLayer(sel.value));selectLayer(sel.value);}
    document.body.dataset.ready='1';
    """
}
