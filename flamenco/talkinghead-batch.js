// SPDX-License-Identifier: GPL-3.0-or-later
// Flamenco job type: Talking Head batch. Splits a dialogue manifest into tasks of a few lines each;
// every task runs `blender -b <rig> --command talkinghead batch --only FIRST:LAST ...` on a worker.
// Install: copy into the Flamenco Manager's `scripts/` folder and restart it.

const JOB_TYPE = {
    label: "Talking Head Batch",
    settings: [
        { key: "rig", type: "string", subtype: "file_path", required: true,
          description: "The .blend holding the character(s)" },
        { key: "manifest", type: "string", subtype: "file_path", required: true,
          description: "jobs.csv: audio,object,text,emotion,engine,name (paths relative to it)" },
        { key: "line_count", type: "int32", required: true, description: "Number of lines (rows) in the manifest" },
        { key: "lines_per_task", type: "int32", default: 10, description: "Lines animated by one task" },
        { key: "output", type: "string", subtype: "dir_path", required: true,
          description: "Folder for the .blend files, renders and reports" },
        { key: "render", type: "string", choices: ["none", "mp4", "png"], default: "mp4" },
        { key: "blender", type: "string", default: "{blender}", visible: "hidden" },
    ],
};

function taskRanges(count, perTask) {
    const ranges = [];
    for (let first = 1; first <= count; first += perTask) {
        ranges.push([first, Math.min(count, first + perTask - 1)]);
    }
    return ranges;
}

function compileJob(job) {
    const s = job.settings;
    if (s.line_count < 1 || s.lines_per_task < 1) {
        throw "line_count and lines_per_task must be positive";
    }
    for (const [first, last] of taskRanges(s.line_count, s.lines_per_task)) {
        const task = author.Task(`lines ${first}-${last}`, "blender");
        const args = ["-b", s.rig, "--command", "talkinghead", "batch", "--jobs", s.manifest, "--out", s.output,
                      "--only", `${first}:${last}`, "--report", `report_${first}-${last}.json`];
        if (s.render !== "none") {
            args.push("--render", s.render);
        }
        task.addCommand(author.Command("blender-render", { exe: s.blender, exeArgs: "", argsBefore: [], args: args }));
        job.addTask(task);
    }
}

if (typeof module !== "undefined") {
    module.exports = { JOB_TYPE, compileJob, taskRanges };  // for tests under Node
}
