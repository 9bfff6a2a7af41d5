# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "Tổng kết: mọi mô hình trên một bảng (mIoU, điểm F biên, tham số, FLOPs, độ trễ, bộ nhớ)"
#       en: "Capstone: every model on one table (mIoU, boundary F, parameters, FLOPs, latency, memory)"
# ---

# %% [markdown] lang="vi"
# # Bài 07 — Tổng kết: mọi mô hình trên một bảng
#
# **Mục tiêu của bài**
#
# 1. Huấn luyện sáu kiến trúc của khoá học — FCN, DeepLabV3 (ASPP), PSPNet (gộp kim tự tháp), RefineNet rút gọn, DeepLabV3+ và một RepVGG nhỏ — với mạng xương sống cùng cỡ, cùng dữ liệu, cùng số epoch.
# 2. Chấm mỗi mô hình trước và sau CRF kết nối đầy đủ: mIoU và điểm F trên biên trên tập kiểm định.
# 3. Đo chi phí cho một ảnh: số tham số, FLOPs, độ trễ trên CPU và bộ nhớ đỉnh của các bản đồ đặc trưng.
# 4. Đọc bảng đã ghi qua 5 hạt giống ngẫu nhiên (trung bình ± độ lệch chuẩn) và xếp hạng các mô hình theo một quy tắc có tính đến nhiễu; chỉ kết luận những chênh lệch có t của Welch ít nhất 2.
# 5. Dùng mô hình đã huấn luyện sẵn (*checkpoint*) và, nếu bạn có, dữ liệu thật (Oxford-IIIT Pet, PASCAL VOC).

# %% [markdown] lang="en"
# # Lesson 07 — Capstone: every model on one table
#
# **Goals**
#
# 1. Train six architectures of the course — FCN, DeepLabV3 (ASPP), PSPNet (pyramid pooling), the light-weight RefineNet, DeepLabV3+ and a small RepVGG — on backbones of the same size, the same data and the same number of epochs.
# 2. Score every model before and after the fully-connected CRF: validation mIoU and boundary F-score.
# 3. Measure the cost of one image: parameters, FLOPs, CPU latency and peak activation memory.
# 4. Read the table recorded over 5 seeds (mean ± std) and rank the models with a rule that respects the noise; conclude only from differences with Welch t of at least 2.
# 5. Use the recorded trained models (checkpoints) and, if you have it, real data (Oxford-IIIT Pet, Pascal VOC).

# %%
import matplotlib.pyplot as plt
import torch

from src import capstone_real, checks, claims, compare, data, metrics, record, viz

src.seed_everything(0)
print(src.get_device())

# %% [markdown] lang="vi"
# ## 1. Giao thức so sánh
#
# Một so sánh chỉ công bằng khi mọi thứ khác được giữ nguyên. Ở đây:
#
# - **Dữ liệu**: biến thể `mosaic` (5 loại vân), ảnh 64×64, cùng tập huấn luyện và tập kiểm định cho mọi mô hình.
# - **Mạng xương sống** (*backbone*): `TinyBackbone` ở output stride 8 (bài 02), khởi tạo ngẫu nhiên; RepVGG dùng một chồng khối RepVGG cùng bề rộng (bài 08).
# - **Đầu ra của từng kiến trúc**, thu nhỏ cho vừa CPU (64 kênh thay vì 256–512): FCN là một tích chập $3\times3$ và một lớp phân loại $1\times1$, phóng to song tuyến (giống FCN-32s: không có kết nối tắt, không học phép phóng to); DeepLabV3 thêm ASPP với đặc trưng mức ảnh (bài 03), hệ số giãn (2, 4, 6) thu nhỏ theo bản đồ đặc trưng $8\times8$ như bài 02 dạy (với (12, 24, 36) mặc định, mỗi nhánh giãn chỉ còn điểm lấy mẫu ở tâm nằm trong bản đồ: `DegenerateASPPWarning`); PSPNet thêm gộp kim tự tháp với các ô 1, 2, 3, 6 (bài 03); RefineNet rút gọn dùng chuỗi hợp nhất đa độ phân giải và gộp phần dư chuỗi trên cả bốn tầng (bài 05); DeepLabV3+ thêm vào ASPP một bộ giải mã nhận đặc trưng mức thấp ở bước trượt 4 (bài 08); RepVGG dùng đầu của FCN.
# - **Huấn luyện**: Adam, cùng tốc độ học và lịch, cùng số epoch; đánh giá ở chế độ `eval()`.
# - **CRF**: `src.crf.dense_crf` (đường nhanh, lưới permutohedral) với bộ tham số mà bài 04 dùng cho ảnh ghép vân (`compare.MOSAIC_CRF`; tham số mặc định của thư viện — giá trị trong ví dụ của Krähenbühl, cũng là của pydensecrf — được chọn cho ảnh màu rộng vài trăm điểm ảnh), áp lên xác suất softmax của từng ảnh kiểm định.
# - **Chi phí**: đo trên một ảnh 64×64 bằng `src.profiling` — FLOPs (một phép nhân-cộng tính là 2), bộ nhớ kích hoạt đỉnh (*peak activation memory*: các tensor sinh ra trong lượt truyền xuôi), và trung vị độ trễ của 5 lần chạy.
# - **Hạt giống**: `experiments/capstone.py` chạy giao thức đầy đủ với 5 hạt giống (khởi tạo và thứ tự ảnh khác nhau, cùng dữ liệu) và ghi `src/results/capstone.json`; mục 3 đọc bản ghi đó.
#
# Ô dưới chạy phiên bản **nhỏ** (một hạt giống, ít ảnh và ít epoch hơn; chưa tới nửa phút trên CPU hai lõi); trên GPU hoặc với `SRC_FULL=1` nó chạy giao thức đầy đủ đã ghi.

# %% [markdown] lang="en"
# ## 1. The protocol
#
# A comparison is only fair when everything else stays fixed. Here:
#
# - **Data**: the `mosaic` variant (5 textures), 64×64 images, the same training and validation sets for every model.
# - **Backbone**: `TinyBackbone` at output stride 8 (lesson 02), randomly initialised; RepVGG uses a stack of RepVGG blocks of the same widths (lesson 08).
# - **Each architecture's head**, shrunk to fit a CPU (64 channels instead of 256–512): FCN is a $3\times3$ convolution and a $1\times1$ classifier with bilinear upsampling (an FCN-32s-like head: no skips, no learned upsampling); DeepLabV3 adds ASPP with the image-level feature (lesson 03), with rates (2, 4, 6) scaled to the $8\times8$ feature map as lesson 02 teaches (with the default (12, 24, 36) each atrous branch would keep only its centre tap inside the map: `DegenerateASPPWarning`); PSPNet adds pyramid pooling with bins 1, 2, 3, 6 (lesson 03); the light-weight RefineNet uses chained multi-resolution fusion and chained residual pooling over all four stages (lesson 05); DeepLabV3+ adds to ASPP a decoder fed with the stride-4 low-level features (lesson 08); RepVGG uses FCN's head.
# - **Training**: Adam, same learning rate and schedule, same number of epochs; evaluation in `eval()` mode.
# - **CRF**: `src.crf.dense_crf` (the fast path, a permutohedral lattice) with the parameters lesson 04 uses for the mosaics (`compare.MOSAIC_CRF`; the library defaults — Krähenbühl's example values, also pydensecrf's — were chosen for colour photos a few hundred pixels wide), applied to the softmax probabilities of each validation image.
# - **Cost**: measured on one 64×64 image with `src.profiling` — FLOPs (a multiply-add counts as 2), the peak memory of the tensors created during the forward pass, and the median latency of 5 runs.
# - **Seeds**: `experiments/capstone.py` runs the full protocol with 5 seeds (different initial weights and image order, the same data) and writes `src/results/capstone.json`; section 3 reads that record.
#
# The cell below runs the **small** version (one seed, fewer images and epochs; under half a minute on a 2-core CPU); on a GPU or with `SRC_FULL=1` it runs the recorded full protocol.

# %%
protocol = "full" if claims.full_protocol() else "live"
print(protocol, compare.PROTOCOLS[protocol])
rows = compare.compare(**compare.PROTOCOLS[protocol], se_options=(False,))

# %% [markdown] lang="vi"
# ## 2. Bảng và hình của lần chạy này
#
# Mỗi hàng là một mô hình. `miou`, `boundary_f1`: trước CRF; `miou_crf`, `boundary_f1_crf`: sau CRF. `mflops`: triệu FLOPs cho một ảnh; `latency_ms`: độ trễ (ms) cho một ảnh trên thiết bị đang chạy; `peak_memory_mib`: bộ nhớ đỉnh (MiB) của các bản đồ đặc trưng khi suy luận; `train_seconds`: thời gian huấn luyện. Các cột thời gian phụ thuộc máy của bạn; các cột còn lại thì không. Trong hình, diện tích mỗi điểm tỉ lệ với bộ nhớ đỉnh (chú giải ở góc cho ba cỡ tham chiếu); bên phải: điểm F trên biên trước và sau CRF.

# %% [markdown] lang="en"
# ## 2. This run's table and figure
#
# One row per model. `miou`, `boundary_f1`: before the CRF; `miou_crf`, `boundary_f1_crf`: after it. `mflops`: millions of FLOPs per image; `latency_ms`: latency (ms) per image on the device in use; `peak_memory_mib`: peak activation memory (MiB) at inference; `train_seconds`: training time. The time columns depend on your machine; the others do not. In the figure each marker's area is proportional to the peak memory (the key in the corner shows three reference sizes); on the right: the boundary F-score before and after the CRF.

# %%
table = compare.as_table(rows)
table

# %%
fig = compare.plot_comparison(rows)

# %% [markdown] lang="vi"
# ## 3. Bảng đã ghi: trung bình ± độ lệch chuẩn qua 5 hạt giống, và một thứ hạng có tính đến nhiễu
#
# Một lần chạy như trên không đủ để xếp hạng: chạy lại với hạt giống khác có thể đảo thứ tự các mô hình sát nhau. Bản ghi chạy giao thức đầy đủ với 5 hạt giống. **Quy tắc xếp hạng**: hạng của một mô hình = 1 + số mô hình có mIoU cao hơn nó với t của Welch ít nhất 2 (`compare.noise_rank`). Vì vậy các mô hình không tách được khỏi mô hình tốt nhất cùng có hạng 1, và một mô hình chỉ bị xếp dưới khi bản ghi cho thấy mô hình kia tốt hơn vượt quá hai sai số chuẩn. Ô dưới in bảng, cấu hình và thời gian CPU của bản ghi.

# %% [markdown] lang="en"
# ## 3. The recorded table: mean ± std over 5 seeds, and a rank that respects the noise
#
# One run like the one above is not enough to rank: a rerun with another seed can swap models that are close. The record runs the full protocol with 5 seeds. **The rank rule**: a model's rank = 1 + the number of models whose mIoU is higher with Welch t of at least 2 (`compare.noise_rank`). So the models that cannot be told apart from the best share rank 1, and a model is ranked below another only when the record shows the other is better by more than two standard errors. The cell below prints the table, the configuration and the CPU time of the record.

# %%
rec = record.load("capstone")
print(src.tr(rec.data["rank_rule"]["vi"], rec.data["rank_rule"]["en"]))
print(
    {
        k: rec.config[k]
        for k in ("image_size", "output_stride", "feature_map", "atrous_rates", "train_count", "val_count", "epochs")
    }
)
print(
    src.tr(
        f"{len(rec.data['seeds'])} hạt giống; {rec.data['cpu_seconds']:.0f} s CPU",
        f"{len(rec.data['seeds'])} seeds; {rec.data['cpu_seconds']:.0f} s of CPU",
    )
)
recorded = compare.summary_table(rec.data)
recorded

# %%
fig = compare.plot_comparison(rec.data)

# %% [markdown] lang="vi"
# Ô dưới đặt số của lần chạy nhỏ ở mục 1 cạnh bản ghi của **cùng** giao thức nhỏ (5 hạt giống, trường `live` của bản ghi) và cạnh giao thức đầy đủ; rồi in kết luận của bản ghi: so sánh mô hình tốt nhất với mô hình kém nhất (chọn *sau* khi đo, nên một t bằng 2 ở đây là bằng chứng yếu hơn một so sánh định trước), và tác dụng của CRF trên từng mô hình. Chỉ những dòng có t ít nhất 2 là một kết luận.

# %% [markdown] lang="en"
# The cell below puts the numbers of section 1's small run next to the record of the **same** small protocol (5 seeds, the record's `live` field) and next to the full protocol; then it prints the record's conclusions: the best model against the worst (chosen *after* measuring, so a t of 2 here is weaker evidence than a comparison planned in advance), and the CRF's effect on each model. Only the lines with t of at least 2 are a conclusion.

# %%
fmt = record.format_mean_std
signed = lambda v: ("+" if v >= 0 else "-") + record.format_number(abs(v))  # noqa: E731
live_rec = rec.data["live"]
same = protocol == "live"
for r in rows:
    reference = live_rec["groups"] if same else rec.groups
    print(
        f"{r.label:18s} {src.tr('lần chạy này', 'this run')} {record.format_number(r.miou)}   "
        f"{src.tr('bản ghi cùng giao thức', 'record, same protocol')} {fmt(reference[r.label])}   "
        f"{src.tr('đầy đủ', 'full')} {fmt(rec.groups[r.label])}"
    )
print()
print(rec.verdict())
print()
for name, t in rec.data["crf_tests"].items():
    m = rec.data["metrics"][name]
    gain = record.mean_std(m["boundary_f1_crf"])[0] - record.mean_std(m["boundary_f1"])[0]
    gain_miou = record.mean_std(m["miou_crf"])[0] - rec.mean(name)
    clears = t["boundary_f1_t"] >= record.T_THRESHOLD
    word = src.tr("đo được", "measurable") if clears else src.tr("không đo được", "not measurable")
    print(
        f"CRF, {name:18s} {src.tr('F biên', 'boundary F')} {signed(gain)} (t = {record.format_number(t['boundary_f1_t'], 1)}: {word}),"
        f"  mIoU {signed(gain_miou)} (t = {record.format_number(t['miou_t'], 1)})"
    )

# %% [markdown] lang="vi"
# ## 4. Mỗi khối đem lại gì, và tốn bao nhiêu?
#
# Ô dưới so mỗi kiến trúc với FCN trong bản ghi: chênh lệch mIoU trung bình, t của Welch, và FLOPs gấp mấy lần. Một khối "đáng tiền" khi nó đẩy điểm lên vượt quá nhiễu giữa các hạt giống (t ít nhất 2) với chi phí bạn chấp nhận được; khi t nhỏ hơn 2, bản ghi **không đo được khác biệt** ở ngân sách này — điều đó không chứng minh khối vô ích, chỉ cho biết ngân sách huấn luyện nhỏ và dữ liệu này không đủ để thấy nó.

# %% [markdown] lang="en"
# ## 4. What does each block buy, and at what cost?
#
# The cell below compares every architecture with FCN in the record: the mean mIoU difference, Welch's t and how many times the FLOPs. A block "pays for itself" when it lifts the score beyond the seed-to-seed noise (t of at least 2) at a cost you can accept; when t is below 2 the record **found no measurable difference** at this budget — which does not prove the block useless, only that this small training budget and this data do not show it.

# %%
base = compare.row_label(compare.NAMES["fcn"], False)
for name in rec.groups:
    if name == base:
        continue
    t = record.welch_t(rec.groups[name], rec.groups[base])
    diff = rec.mean(name) - rec.mean(base)
    ratio = rec.data["metrics"][name]["mflops"] / rec.data["metrics"][base]["mflops"]
    word = (
        src.tr("tốt hơn đo được", "measurably better")
        if t >= 2
        else src.tr("kém hơn đo được", "measurably worse")
        if t <= -2
        else src.tr("không đo được khác biệt", "no measurable difference")
    )
    print(
        f"{name:18s} mIoU {signed(diff)} (t = {record.format_number(t, 1)}: {word})   FLOPs x{record.format_number(ratio, 2)}"
    )
print()
for other in ("context_cue", "se_cue"):  # the lessons whose data needs global context
    if other in record.available():
        print(
            f"{other} ({src.tr('bài', 'lesson')} {record.load(other).data['lesson']}): {record.load(other).verdict()}"
        )

# %% [markdown] lang="vi"
# **Cách đọc.** Với cùng ngân sách huấn luyện rất nhỏ, chênh lệch giữa các kiến trúc có thể chỉ vài điểm phần trăm, và một phần trong đó là nhiễu của hạt giống ngẫu nhiên: chỉ tin những chênh lệch mà các dòng trên gọi là "đo được", và đừng ngạc nhiên nếu một đầu ngữ cảnh đắt tiền chưa thắng FCN ở ngân sách này, thậm chí còn kém FCN với mức chênh đo được (DeepLabV3 (ASPP) ở các dòng trên); bài này không kiểm tra vì sao (ít bước huấn luyện cho mỗi tham số, hay dữ liệu không cần đến ngữ cảnh, là hai khả năng — bài 03 và 06 dựng dữ liệu `cue` để ngữ cảnh toàn cục là cần thiết; hai dòng cuối của ô trên in kết luận của bản ghi của chúng). Ngược lại, các cột chi phí (tham số, FLOPs, bộ nhớ) là tất định — chúng đúng như nhau trên mọi máy. CRF không cần huấn luyện; nó chủ yếu dời các điểm ảnh gần cạnh trong ảnh và xoá các đốm nhỏ (bài 04), nên điểm F trên biên là nơi tìm tác dụng của nó; trên ảnh mức xám của bộ dữ liệu, nhân song phương chỉ có độ sáng để dựa vào. Hãy đọc các dòng CRF ở trên thay vì mặc định rằng nó luôn có ích.

# %% [markdown] lang="en"
# **How to read it.** With the same very small training budget, the architectures may differ by only a few points, part of which is seed noise: trust only the differences the lines above call "measurable", and do not be surprised if an expensive context head has not beaten FCN at this budget, or is even measurably below it (DeepLabV3 (ASPP) in the lines above); this lesson does not test why (fewer steps per parameter, or data that does not need the context, are two candidates — lessons 03 and 06 build the `cue` data so that global context is needed; the last two lines of the cell above print their records' verdicts). The cost columns (parameters, FLOPs, memory), on the other hand, are deterministic — identical on every machine. The CRF needs no training; it mostly moves pixels near image edges and removes small specks (lesson 04), so the boundary F-score is where to look for its effect; on the dataset's grey images the bilateral kernel has only brightness to go by. Read the CRF lines above rather than assume it always helps.

# %% [markdown] lang="vi"
# ## 5. Bài tập
#
# **Bài tập 07-1 — chọn mô hình dưới một ngân sách độ trễ.** Một ứng dụng chỉ cho phép `latency_budget_ms` mili-giây mỗi ảnh. Viết `best_under_budget(rows, latency_budget_ms)`: `rows` là danh sách dict có các khoá `model`, `se`, `miou`, `latency_ms`; trả về tên của mô hình có `miou` cao nhất trong số các mô hình có `latency_ms <= latency_budget_ms`, dạng `model` hoặc `model + " + SE"` khi `se` là `True`; nếu hoà thì chọn mô hình nhanh hơn; nếu không mô hình nào vừa thì trả về `None`.

# %% [markdown] lang="en"
# ## 5. Exercises
#
# **Exercise 07-1 — pick a model under a latency budget.** An application allows `latency_budget_ms` milliseconds per image. Write `best_under_budget(rows, latency_budget_ms)`: `rows` is a list of dicts with keys `model`, `se`, `miou`, `latency_ms`; return the name of the model with the highest `miou` among those with `latency_ms <= latency_budget_ms`, as `model`, or `model + " + SE"` when `se` is `True`; on a tie prefer the faster one; if none fits, return `None`.


# %%
def best_under_budget(rows, latency_budget_ms):
    ### BEGIN SOLUTION
    fitting = [r for r in rows if r["latency_ms"] <= latency_budget_ms]
    if not fitting:
        return None
    best = max(fitting, key=lambda r: (r["miou"], -r["latency_ms"]))
    return best["model"] + (" + SE" if best["se"] else "")
    ### END SOLUTION


# %%
result = checks.check_best_under_budget(best_under_budget)

# %% [markdown] lang="vi"
# Áp lời giải tham chiếu lên bảng của lần chạy **của bạn** (mục 2), với ngân sách bằng trung vị các độ trễ đo được (nên kết quả phụ thuộc vào máy):

# %% [markdown] lang="en"
# Apply the reference solution to **your** run's table (section 2), with a budget equal to the median of the measured latencies (so the answer depends on your machine):

# %%
records = table.to_dict("records")
budget = float(table["latency_ms"].median())
best_within = compare.best_under_budget(records, budget)
print(
    src.tr(
        f"ngân sách = trung vị độ trễ; mô hình tốt nhất trong ngân sách: {best_within}",
        f"budget = median latency; best model within it: {best_within}",
    )
)
best_overall = compare.best_under_budget(records, float("inf"))
print(src.tr(f"không giới hạn ngân sách: {best_overall}", f"no budget: {best_overall}"))

# %% [markdown] lang="vi"
# **Bài tập 07-2 — giải thích một trường hợp thất bại.** Trước khi giải thích, cần biết mô hình sai ở đâu. Viết `most_confused(cm)`: nhận ma trận nhầm lẫn $C\times C$ (hàng = nhãn thật, cột = dự đoán), trả về cặp `(lớp có IoU thấp nhất, lớp mà nó bị dự đoán nhầm thành nhiều nhất)` (bỏ qua đường chéo).

# %% [markdown] lang="en"
# **Exercise 07-2 — explain a failure case.** Before explaining, find where the model fails. Write `most_confused(cm)`: it takes a $C\times C$ confusion matrix (rows = true labels, columns = predictions) and returns the pair `(class with the lowest IoU, the class it is most often predicted as)` (diagonal excluded).


# %%
def most_confused(cm):
    ### BEGIN SOLUTION
    cm = cm.double()
    tp = cm.diag()
    iou = tp / (cm.sum(0) + cm.sum(1) - tp)
    worst = int(torch.nan_to_num(iou, nan=2.0).argmin())
    row = cm[worst].clone()
    row[worst] = -1
    return worst, int(row.argmax())
    ### END SOLUTION


# %%
result = checks.check_most_confused(most_confused)

# %% [markdown] lang="vi"
# Giờ áp nó lên mô hình yếu nhất trong bảng và nhìn các dự đoán của nó: chỗ sai tô vàng ở cột cuối (màu không lớp nào dùng).

# %% [markdown] lang="en"
# Now apply it to the weakest model of the table and look at its predictions: errors are yellow in the last column (a colour no class uses).

# %%
val_set = data.TextureMosaics("mosaic", "val", size=64, count=compare.PROTOCOLS[protocol]["val_count"])
weakest = min(rows, key=lambda r: r.miou)
worst, confused_with = compare.most_confused(weakest.confusion)
names = val_set.class_names
print(
    f"{src.tr('yếu nhất', 'weakest')}: {weakest.label}; {src.tr('lớp kém nhất', 'worst class')}: {names[worst]}, "
    f"{src.tr('hay bị đoán thành', 'mostly predicted as')} {names[confused_with]}"
)
iou = metrics.iou_from_confusion(weakest.confusion)
print(src.format_value(dict(zip(names, iou.tolist())), 3))
fig = viz.show_predictions(val_set.images, val_set.masks, weakest.predictions, val_set.palette, names, n=4)

# %% [markdown] lang="vi"
# **Tự giải thích (không chấm tự động).** Dựa vào hình và các con số trên, viết vài câu trả lời: hai loại vân bị nhầm trông giống nhau ở điểm nào khi chỉ nhìn một mảnh nhỏ? Lỗi nằm ở giữa vùng hay sát biên? Khối nào của khoá học nhắm vào đúng loại lỗi này — trường tiếp nhận lớn hơn (bài 01–02), ngữ cảnh đa tỉ lệ (bài 03), CRF (bài 04) hay bộ giải mã làm tinh (bài 05)? Bảng đã ghi ở mục 3–4 có xác nhận điều đó không?

# %% [markdown] lang="en"
# **Explain it yourself (not auto-graded).** From the figure and the numbers above, write a few sentences: in what way do the two confused textures look alike when you only see a small patch? Are the errors inside regions or next to boundaries? Which block of the course targets exactly this kind of error — a larger receptive field (lessons 01–02), multi-scale context (03), the CRF (04) or the refining decoder (05)? Does the recorded table of sections 3–4 confirm it?

# %% [markdown] lang="vi"
# ## 6. Mô hình đã huấn luyện sẵn (*checkpoint*)
#
# `experiments/capstone.py` lưu mô hình của hạt giống 0 của mỗi kiến trúc (trọng số fp16, vài trăm KiB, kèm sha256 trong `src/results/checkpoints/checkpoints.json`). `compare.load_checkpoint(tên)` đối chiếu mã kiểm tra (*checksum*) rồi trả về mô hình ở chế độ `eval()` — không cần huấn luyện trong notebook (trình khám phá trường tiếp nhận của bài 01 dùng chúng để so trường tiếp nhận hiệu dụng của mạng đã học và mạng ngẫu nhiên). Ô dưới chấm lại checkpoint của mô hình xếp đầu bản ghi trên tập kiểm định của giao thức đầy đủ và đặt cạnh con số mà bản ghi lưu cho hạt giống 0 (khác nhau chút ít vì trọng số đã làm tròn về fp16).

# %% [markdown] lang="en"
# ## 6. The recorded trained models (checkpoints)
#
# `experiments/capstone.py` saves seed 0's model of every architecture (fp16 weights, a few hundred KiB, with their sha256 in `src/results/checkpoints/checkpoints.json`). `compare.load_checkpoint(name)` verifies the checksum and returns the model in `eval()` mode — no training in the notebook (lesson 01's receptive-field explorer uses them to compare the effective RF of a trained and a random network). The cell below scores the checkpoint of the record's best model on the full protocol's validation set, next to the record's value for seed 0 (slightly different: the weights were rounded to fp16).

# %%
best = max(rec.groups, key=rec.mean)
best_arch = rec.data["metrics"][best]["arch"]
print(
    src.tr("các checkpoint:", "checkpoints:"),
    {k: f"{v['bytes'] / 1024:.0f} KiB" for k, v in compare.available_checkpoints().items()},
)
model = compare.load_checkpoint(best_arch)
full_val = data.TextureMosaics("mosaic", "val", size=64, count=compare.PROTOCOLS["full"]["val_count"])
with torch.no_grad():
    x = torch.stack([full_val[i][0] for i in range(len(full_val))])
    preds = model(x).argmax(1)
report = metrics.segmentation_report(preds, torch.from_numpy(full_val.masks).long(), full_val.num_classes)
print(
    f"{best}: {src.tr('checkpoint', 'checkpoint')} mIoU {record.format_number(report['miou'])}; "
    f"{src.tr('bản ghi, hạt giống 0', 'record, seed 0')} {record.format_number(rec.groups[best][0])}"
)

# %% [markdown] lang="vi"
# ## 7. (Tuỳ chọn) Dữ liệu thật
#
# Ảnh ghép vân của khoá học nhỏ và dễ kiểm soát; dữ liệu thật thì không. Nếu bạn đã tải Oxford-IIIT Pet (Parkhi và cộng sự, 2012; 3 lớp: nền, mèo, chó) hoặc PASCAL VOC 2012 (Everingham và cộng sự, 2010; 21 lớp), ô dưới huấn luyện mô hình xếp đầu bản ghi trên đó qua `src.data.real_dataset`. Dữ liệu được tìm dưới thư mục trong biến môi trường `SRC_DATA_ROOT`, hoặc một thư mục riêng của người dùng (ô dưới in đường dẫn). Nếu trọng số ResNet-18 huấn luyện sẵn trên ImageNet của torchvision **đã có** trong bộ nhớ đệm của torch, mô hình dùng nó làm mạng xương sống; khoá học không bao giờ tải gì xuống. Khi không có dữ liệu, ô chỉ nói vậy và bỏ qua.

# %% [markdown] lang="en"
# ## 7. (Optional) Real data
#
# The course's texture mosaics are small and controlled; real data is neither. If you have downloaded Oxford-IIIT Pet (Parkhi et al., 2012; 3 classes: background, cat, dog) or Pascal VOC 2012 (Everingham et al., 2010; 21 classes), the cell below trains the record's best model on it through `src.data.real_dataset`. The data is looked for under the folder in the environment variable `SRC_DATA_ROOT`, or a per-user folder (the cell prints the path). If torchvision's ImageNet-pretrained ResNet-18 weights are **already** in the torch cache, the model uses them as its backbone; the course never downloads anything. Without the data the cell says so and skips.

# %%
real = capstone_real.plan()
print(real["message"])
if real["dataset"] is not None:
    result = capstone_real.train_on_real_data(real["dataset"], real["root"], best_arch, weights=real["weights"])
    print(
        f"{real['dataset']}, {best}: val mIoU {record.format_number(result['miou'])}, "
        f"boundary F {record.format_number(result['boundary_f1'])}"
    )

# %% [markdown] lang="vi"
# ## Ghi nhớ
#
# - So sánh công bằng: cùng dữ liệu, mạng xương sống cùng cỡ, cùng ngân sách, cùng các hạt giống; đánh giá ở chế độ `eval()`.
# - Một lần chạy không xếp hạng được: bảng cần trung bình ± độ lệch chuẩn qua nhiều hạt giống, và một thứ hạng chỉ tách hai mô hình khi t của Welch ít nhất 2.
# - Chất lượng (mIoU, điểm F trên biên) phải đặt cạnh chi phí (tham số, FLOPs, độ trễ, bộ nhớ đỉnh); FLOPs và bộ nhớ là tất định, độ trễ thì phụ thuộc máy.
# - Các đầu ngữ cảnh (ASPP, gộp kim tự tháp) và bộ giải mã (RefineNet, DeepLabV3+) tốn thêm FLOPs; CRF không cần huấn luyện nhưng tốn thời gian suy luận, và tác dụng của nó nằm ở biên.
# - Với ngân sách huấn luyện nhỏ, chênh lệch vài điểm phần trăm có thể là nhiễu: chỉ kết luận từ nhiều hạt giống (trung bình ± độ lệch chuẩn, t của Welch ít nhất 2), như bản ghi ở mục 3.
#
# ## Tài liệu tham khảo
#
# - J. Long, E. Shelhamer, T. Darrell. *Fully Convolutional Networks for Semantic Segmentation*. arXiv 1411.4038.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation*. arXiv 1706.05587.
# - L.-C. Chen, Y. Zhu, G. Papandreou, F. Schroff, H. Adam. *Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation* (DeepLabV3+). arXiv 1802.02611.
# - H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia. *Pyramid Scene Parsing Network*. arXiv 1612.01105.
# - G. Lin, A. Milan, C. Shen, I. Reid. *RefineNet: Multi-Path Refinement Networks for High-Resolution Semantic Segmentation*. arXiv 1611.06612.
# - V. Nekrasov, C. Shen, I. Reid. *Light-Weight RefineNet for Real-Time Semantic Segmentation*. arXiv 1810.03272.
# - X. Ding, X. Zhang, N. Ma, J. Han, G. Ding, J. Sun. *RepVGG: Making VGG-style ConvNets Great Again*. arXiv 2101.03697.
# - J. Hu, L. Shen, G. Sun. *Squeeze-and-Excitation Networks*. arXiv 1709.01507.
# - P. Krähenbühl, V. Koltun. *Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials*. arXiv 1210.5644.
# - B. L. Welch. *The generalization of "Student's" problem when several different population variances are involved*. Biometrika, 1947.
# - O. M. Parkhi, A. Vedaldi, A. Zisserman, C. V. Jawahar. *Cats and Dogs*. CVPR 2012 (Oxford-IIIT Pet).
# - M. Everingham và cộng sự. *The Pascal Visual Object Classes (VOC) Challenge*. IJCV 2010.

# %% [markdown] lang="en"
# ## Key takeaways
#
# - A fair comparison: same data, backbones of the same size, same budget, the same seeds; evaluate in `eval()` mode.
# - One run cannot rank: the table needs mean ± std over several seeds, and a rank that separates two models only when Welch's t is at least 2.
# - Quality (mIoU, boundary F) must sit next to cost (parameters, FLOPs, latency, peak memory); FLOPs and memory are deterministic, latency depends on the machine.
# - Context heads (ASPP, pyramid pooling) and decoders (RefineNet, DeepLabV3+) cost extra FLOPs; the CRF needs no training but costs inference time, and its effect is at the boundaries.
# - With a small training budget a gap of a few points can be noise: conclude only from several seeds (mean ± std, Welch t >= 2), as the record of section 3 does.
#
# ## References
#
# - J. Long, E. Shelhamer, T. Darrell. *Fully Convolutional Networks for Semantic Segmentation*. arXiv 1411.4038.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation*. arXiv 1706.05587.
# - L.-C. Chen, Y. Zhu, G. Papandreou, F. Schroff, H. Adam. *Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation* (DeepLabV3+). arXiv 1802.02611.
# - H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia. *Pyramid Scene Parsing Network*. arXiv 1612.01105.
# - G. Lin, A. Milan, C. Shen, I. Reid. *RefineNet: Multi-Path Refinement Networks for High-Resolution Semantic Segmentation*. arXiv 1611.06612.
# - V. Nekrasov, C. Shen, I. Reid. *Light-Weight RefineNet for Real-Time Semantic Segmentation*. arXiv 1810.03272.
# - X. Ding, X. Zhang, N. Ma, J. Han, G. Ding, J. Sun. *RepVGG: Making VGG-style ConvNets Great Again*. arXiv 2101.03697.
# - J. Hu, L. Shen, G. Sun. *Squeeze-and-Excitation Networks*. arXiv 1709.01507.
# - P. Krähenbühl, V. Koltun. *Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials*. arXiv 1210.5644.
# - B. L. Welch. *The generalization of "Student's" problem when several different population variances are involved*. Biometrika, 1947.
# - O. M. Parkhi, A. Vedaldi, A. Zisserman, C. V. Jawahar. *Cats and Dogs*. CVPR 2012 (Oxford-IIIT Pet).
# - M. Everingham et al. *The Pascal Visual Object Classes (VOC) Challenge*. IJCV 2010.
