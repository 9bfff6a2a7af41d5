# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "Phân vùng là gì, IoU/mIoU, bộ dữ liệu ghép vân, bốn họ đa tỉ lệ, FCN cơ sở"
#       en: "What segmentation is, IoU/mIoU, the texture mosaics, four multi-scale families, an FCN baseline"
# ---

# %% [markdown] lang="vi"
# # Bài 00 — Phân vùng ngữ nghĩa và cách khoá học vận hành
#
# **Mục tiêu của bài**
#
# 1. Hiểu bài toán phân vùng ngữ nghĩa (*semantic segmentation*): gán một nhãn cho **từng điểm ảnh**.
# 2. Tính được độ chính xác điểm ảnh (*pixel accuracy*), IoU, mIoU và điểm F trên biên (*boundary F-score*), và biết vì sao mIoU là thước đo chính.
# 3. Làm quen với bộ dữ liệu ghép vân (*texture mosaics*) mà cả khoá học dùng.
# 4. Nhìn thấy bản đồ của khoá học: bốn cách thu nhận ngữ cảnh đa tỉ lệ.
# 5. Huấn luyện một mô hình FCN cơ sở trên CPU và đọc các lỗi của nó.
# 6. Biết cách làm bài tập và nhận kết quả kiểm tra tự động.

# %% [markdown] lang="en"
# # Lesson 00 — Semantic segmentation and how this course works
#
# **Goals**
#
# 1. Understand semantic segmentation: assigning a label to **every pixel**.
# 2. Compute pixel accuracy, IoU, mIoU and the boundary F-score, and see why mIoU is the main yardstick.
# 3. Meet the texture-mosaic dataset used throughout the course.
# 4. See the map of the course: four ways to capture multi-scale context.
# 5. Train a baseline FCN on the CPU and read its mistakes.
# 6. Learn how exercises and their automatic checks work.

# %%
import matplotlib.pyplot as plt
import torch

from src import checks, data, metrics, models, train, viz

src.seed_everything(0)
device = src.get_device()
print(device)

# %% [markdown] lang="vi"
# ## 1. Phân vùng ngữ nghĩa là gì?
#
# Bài toán phân loại ảnh trả lời "ảnh này có gì?" bằng **một** nhãn. Phân vùng ngữ nghĩa trả lời "điểm ảnh (*pixel*) này thuộc lớp nào?" cho **mọi** điểm ảnh. Với ảnh kích thước $H \times W$ và $C$ lớp, mô hình trả về một tensor điểm số (*logits*) $C \times H \times W$; nhãn dự đoán tại vị trí $(i, j)$ là
#
# $$\hat y_{ij} = \arg\max_c \; z_{c,ij}.$$
#
# Khác với phân vùng thực thể (*instance segmentation*), hai vật cùng lớp đứng cạnh nhau nhận **cùng** một nhãn: ta chỉ quan tâm đến lớp, không đếm từng vật.
#
# Khó khăn chính: để gán nhãn cho một điểm ảnh, mô hình phải nhìn đủ **ngữ cảnh** quanh nó (một mảng cỏ nhỏ trông giống mảng sỏi nếu chỉ nhìn vài điểm ảnh), nhưng vẫn phải trả về kết quả ở **độ phân giải đầy đủ** với biên sắc nét. Cả khoá học xoay quanh mâu thuẫn này.

# %% [markdown] lang="en"
# ## 1. What is semantic segmentation?
#
# Image classification answers "what is in this image?" with **one** label. Semantic segmentation answers "which class does this pixel belong to?" for **every** pixel. For an $H \times W$ image and $C$ classes, the model returns a $C \times H \times W$ tensor of scores (logits); the predicted label at $(i, j)$ is
#
# $$\hat y_{ij} = \arg\max_c \; z_{c,ij}.$$
#
# Unlike instance segmentation, two touching objects of the same class get the **same** label: we care about the class, not about counting objects.
#
# The core difficulty: to label a pixel the model must see enough **context** around it (a small patch of grass looks like gravel if you only see a few pixels), yet it must answer at **full resolution** with sharp boundaries. The whole course revolves around this tension.

# %% [markdown] lang="vi"
# ## 2. Đo chất lượng: độ chính xác điểm ảnh, IoU, mIoU
#
# Mọi thước đo đều bắt đầu từ **ma trận nhầm lẫn** (*confusion matrix*) $M$: $M_{tp}$ là số điểm ảnh có nhãn thật $t$ và nhãn dự đoán $p$.
#
# - Độ chính xác điểm ảnh: $\text{PA} = \dfrac{\sum_c M_{cc}}{\sum_{t,p} M_{tp}}$.
# - Tỉ lệ giao trên hợp (IoU) của lớp $c$: $\text{IoU}_c = \dfrac{TP_c}{TP_c + FP_c + FN_c}$, với $TP_c = M_{cc}$, $FP_c = \sum_t M_{tc} - M_{cc}$ (tổng cột trừ đường chéo), $FN_c = \sum_p M_{cp} - M_{cc}$ (tổng hàng trừ đường chéo).
# - mIoU: trung bình IoU trên các lớp có mặt (trong nhãn thật hoặc dự đoán).
#
# Ví dụ nhỏ dưới đây có 3 lớp và 6 điểm ảnh. Hãy tự tính trên giấy trước khi chạy ô mã.

# %% [markdown] lang="en"
# ## 2. Measuring quality: pixel accuracy, IoU, mIoU
#
# Every metric starts from the **confusion matrix** $M$: $M_{tp}$ counts the pixels whose true label is $t$ and predicted label is $p$.
#
# - Pixel accuracy: $\text{PA} = \dfrac{\sum_c M_{cc}}{\sum_{t,p} M_{tp}}$.
# - Intersection over union of class $c$: $\text{IoU}_c = \dfrac{TP_c}{TP_c + FP_c + FN_c}$, with $TP_c = M_{cc}$, $FP_c = \sum_t M_{tc} - M_{cc}$ (column sum minus diagonal), $FN_c = \sum_p M_{cp} - M_{cc}$ (row sum minus diagonal).
# - mIoU: the mean IoU over the classes that occur (in the ground truth or the prediction).
#
# The small example below has 3 classes and 6 pixels. Work it out on paper before running the cell.

# %%
# NBVAL_CHECK_OUTPUT
target = torch.tensor([[0, 0, 1], [1, 2, 2]])
pred = torch.tensor([[0, 1, 1], [1, 2, 0]])
cm = metrics.confusion_matrix(pred, target, num_classes=3)
print(cm)
print("pixel accuracy =", src.format_value(metrics.pixel_accuracy(cm), 4))  # decimal commas in Vietnamese
print("IoU per class  =", src.format_value(metrics.iou_from_confusion(cm).tolist(), 4))
print("mIoU           =", src.format_value(metrics.mean_iou(pred, target, 3), 4))

# %% [markdown] lang="vi"
# **Vì sao không chỉ dùng độ chính xác điểm ảnh?** Khi một lớp chiếm gần hết ảnh (nền, bầu trời, đường), một mô hình "lười" đoán toàn bộ là lớp đó vẫn đạt độ chính xác cao. IoU phạt cả dự đoán thừa ($FP$) lẫn bỏ sót ($FN$) cho **từng lớp**, và mIoU cho mỗi lớp một trọng số bằng nhau, nên lớp nhỏ không bị che khuất. Ô sau minh hoạ điều đó trên một ảnh có 90% nền.

# %% [markdown] lang="en"
# **Why not just pixel accuracy?** When one class covers most of the image (background, sky, road), a "lazy" model that predicts that class everywhere still scores high accuracy. IoU penalises both extra predictions ($FP$) and misses ($FN$) **per class**, and mIoU weighs every class equally, so small classes are not drowned out. The next cell shows it on an image that is 90 % background.

# %%
# NBVAL_CHECK_OUTPUT
truth = torch.zeros(10, 10, dtype=torch.long)
truth[:, :1] = 1  # a thin object: 10 % of the pixels
lazy = torch.zeros_like(truth)  # predicts background everywhere
report = metrics.segmentation_report(lazy, truth, num_classes=2)
print(src.format_value(report, 3))

# %% [markdown] lang="vi"
# Độ chính xác điểm ảnh là 0,9 nhưng mIoU chỉ 0,45: lớp vật thể có IoU bằng 0.
#
# **Điểm F trên biên** (*boundary F-score*, Csurka và cộng sự, BMVC 2013) chỉ nhìn các điểm ảnh nằm trên **biên** giữa hai lớp: độ chuẩn xác (*precision*) là tỉ lệ điểm biên dự đoán nằm gần (trong vài điểm ảnh) một điểm biên thật, độ thu hồi (*recall*) là chiều ngược lại, và $F = 2PR/(P+R)$. Nó nhạy với biên bị nhoè — điều mà mIoU chỉ ghi nhận rất ít, vì biên chiếm ít điểm ảnh. Bài 04 (CRF) dùng nó nhiều.

# %% [markdown] lang="en"
# Pixel accuracy is 0.9 but mIoU is only 0.45: the object class has an IoU of 0.
#
# The **boundary F-score** (Csurka et al., BMVC 2013) looks only at pixels on the **boundary** between two classes: precision is the fraction of predicted boundary pixels lying close (within a few pixels) to a true boundary pixel, recall the other way round, and $F = 2PR/(P+R)$. It is sensitive to blurry boundaries, which mIoU barely registers because boundaries are few pixels. Lesson 04 (CRF) relies on it.

# %% [markdown] lang="vi"
# ## 3. Bài tập và kiểm tra tự động
#
# Mỗi bài tập là một hàm bạn cần viết, ở chỗ có dòng `raise NotImplementedError`. Ô ngay sau gọi `src.checks`, chạy hàm của bạn trên vài trường hợp, so sánh với lời giải tham chiếu (kích thước, kiểu dữ liệu, giá trị với sai số cho phép) và in ra kết luận: ✅ nếu đúng, ❌ kèm lý do và gợi ý nếu sai. Ô kiểm tra **không bao giờ làm dừng** notebook: các ô sau dùng lời giải tham chiếu trong `src`, nên bạn vẫn chạy được cả bài dù chưa làm xong bài tập.
#
# **Bài tập 00-1.** Viết `my_confusion_matrix(pred, target, num_classes)` trả về ma trận $C \times C$ kiểu số nguyên, $M_{tp}$ = số điểm ảnh có nhãn thật $t$ và nhãn dự đoán $p$. `pred` và `target` là tensor nhãn cùng kích thước (bất kỳ số chiều nào).

# %% [markdown] lang="en"
# ## 3. Exercises and automatic checks
#
# Each exercise is a function you write, where the line `raise NotImplementedError` stands. The cell right after it calls `src.checks`, which runs your function on a few cases, compares it with the reference solution (shape, dtype, values within a tolerance) and prints a verdict: ✅ when it is right, ❌ with the reason and a hint when it is not. A check **never stops** the notebook: later cells use the reference solution in `src`, so the whole lesson runs even before you solve the exercises.
#
# **Exercise 00-1.** Write `my_confusion_matrix(pred, target, num_classes)` returning an integer $C \times C$ matrix, $M_{tp}$ = the number of pixels with true label $t$ and predicted label $p$. `pred` and `target` are label tensors of the same shape (any number of dimensions).


# %%
def my_confusion_matrix(pred, target, num_classes):
    ### BEGIN SOLUTION
    index = target.reshape(-1) * num_classes + pred.reshape(-1)
    counts = torch.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)
    ### END SOLUTION


# %%
result = checks.check_confusion_matrix(my_confusion_matrix)

# %% [markdown] lang="vi"
# **Bài tập 00-2.** Viết `my_iou(cm)` nhận ma trận nhầm lẫn và trả về IoU của từng lớp (tensor số thực độ dài $C$).

# %% [markdown] lang="en"
# **Exercise 00-2.** Write `my_iou(cm)` that takes a confusion matrix and returns the IoU of every class (a float tensor of length $C$).


# %%
def my_iou(cm):
    ### BEGIN SOLUTION
    cm = cm.float()
    tp = cm.diag()
    return tp / (cm.sum(0) + cm.sum(1) - tp)
    ### END SOLUTION


# %%
result = checks.check_iou_from_confusion(my_iou)

# %% [markdown] lang="vi"
# ## 4. Bộ dữ liệu: ghép vân từ ảnh thật
#
# Khoá học không tải gì từ mạng. Dữ liệu được dựng **tất định** từ các ảnh chụp thật đi kèm gói `scikit-image`: gạch (`brick`), cỏ (`grass`), sỏi (`gravel`), bề mặt mặt trăng (`moon`) và một lát cắt mô tế bào (`immunohistochemistry`). Mỗi ảnh là một bức ghép gồm các vùng, mỗi vùng là một mảnh của một loại vân; độ sáng và độ tương phản của từng vùng được xáo trộn ngẫu nhiên, nên mô hình phải nhận ra **vân** chứ không thể chỉ dựa vào mức xám. Tập huấn luyện, kiểm định và kiểm tra lấy từ những phần **rời nhau** của mỗi ảnh gốc. Ba biến thể chính:
#
# | biến thể | nhãn | dùng ở |
# |---|---|---|
# | `mosaic` | loại vân (5 lớp) | hầu hết các bài |
# | `shapes` | **hình dạng** của vùng (nền, tròn, vuông, tam giác); hình sáng hơn nền, vân chọn ngẫu nhiên | bài 01–03: cần ngữ cảnh rộng |
# | `binary` | cỏ hay không (1 logit, sigmoid) | ví dụ cho bài toán nhị phân; bài 03 huấn luyện các hàm mất mát trên `binary_small`, một biến thể lệch lớp mạnh hơn |
#
# Các bài sau còn dùng vài biến thể dựng riêng cho một thí nghiệm, ví dụ `cue`, trong đó lớp của các hình tròn chỉ xác định được qua một ô màu ở góc ảnh (bài 03, 06). Danh sách đầy đủ (`src.data.VARIANTS`), nguồn ảnh, giấy phép và cách dựng: `data/README.md`.

# %% [markdown] lang="en"
# ## 4. The dataset: mosaics of real textures
#
# The course downloads nothing. The data is built **deterministically** from real photographs that ship inside the `scikit-image` package: brick, grass, gravel, the surface of the moon and a tissue slide (`immunohistochemistry`). Each image is a mosaic of regions, each region a crop of one texture; every region's brightness and contrast are jittered, so a model must recognise the **texture**, not just a grey level. Train, val and test crops come from **disjoint** parts of each photograph. The three main variants:
#
# | variant | label | used in |
# |---|---|---|
# | `mosaic` | the texture (5 classes) | most lessons |
# | `shapes` | the region's **shape** (background, circle, square, triangle); shapes brighter than the background, random textures | lessons 01–03: needs wide context |
# | `binary` | grass or not (one logit, sigmoid) | the sample binary task; lesson 03 trains its losses on `binary_small`, a more skewed variant |
#
# Later lessons also use a few variants built for one experiment each, e.g. `cue`, where the class of the discs can only be read from a coloured square in a corner (lessons 03, 06). The full list (`src.data.VARIANTS`), sources, licences and how it is built: `data/README.md`.

# %%
mosaic_train = data.TextureMosaics("mosaic", "train")
print(mosaic_train)
fig = viz.show_dataset(mosaic_train, n=5, title="mosaic")

# %%
for variant in ("shapes", "binary"):
    fig = viz.show_dataset(data.TextureMosaics(variant, "train"), n=5, title=variant)

# %% [markdown] lang="vi"
# Tỉ lệ điểm ảnh của từng lớp (trên tập huấn luyện) cho biết dữ liệu có cân bằng không — biến thể `binary` cố ý lệch về phía nền.

# %% [markdown] lang="en"
# The share of pixels of each class (training split) tells whether the data is balanced — the `binary` variant is deliberately skewed towards background.

# %%
# NBVAL_CHECK_OUTPUT
for variant in ("mosaic", "shapes", "binary"):
    ds = data.TextureMosaics(variant, "train")
    counts = torch.bincount(torch.from_numpy(ds.masks).reshape(-1).long(), minlength=ds.num_classes)
    shares = (counts / counts.sum()).tolist()
    print(f"{variant:7s}", src.format_value(dict(zip(ds.classes, shares)), 3))

# %% [markdown] lang="vi"
# ## 5. Bản đồ khoá học: bốn cách thu nhận ngữ cảnh đa tỉ lệ
#
# Bài báo DeepLabv3 (Chen và cộng sự, arXiv 1706.05587, Hình 2) xếp các cách để một mạng vừa thấy ngữ cảnh rộng vừa giữ chi tiết thành bốn họ. Mỗi họ là một bài trong khoá:
#
# | họ | ý tưởng | bài |
# |---|---|---|
# | kim tự tháp ảnh (*image pyramid*) | chạy cùng một mạng trên ảnh ở nhiều tỉ lệ rồi gộp kết quả | nhắc tới trong bài 03 |
# | bộ mã hoá - bộ giải mã (*encoder-decoder*) | thu nhỏ để lấy ngữ nghĩa, rồi phóng to lại và trộn với đặc trưng chi tiết | bài 05 (RefineNet) |
# | sâu hơn với tích chập giãn (*atrous convolution*) | giữ độ phân giải mà vẫn mở rộng trường tiếp nhận | bài 01, 02 |
# | gộp kim tự tháp không gian (*spatial pyramid pooling*) | nhiều nhánh với tỉ lệ khác nhau trên cùng một bản đồ đặc trưng | bài 03 (ASPP, PSPNet) |
#
# Thêm vào đó: trường ngẫu nhiên có điều kiện kết nối đầy đủ (*fully connected conditional random field*, CRF) làm sắc biên sau mạng (bài 04), khối Squeeze-and-Excitation cân lại các kênh (bài 06), và bài 07 so sánh tất cả trên cùng một bảng. Hình dưới vẽ sơ đồ bốn họ.

# %% [markdown] lang="en"
# ## 5. The course map: four ways to capture multi-scale context
#
# The DeepLabv3 paper (Chen et al., arXiv 1706.05587, Fig. 2) sorts the ways in which a network can see wide context while keeping detail into four families. Each family is a lesson of the course:
#
# | family | idea | lesson |
# |---|---|---|
# | image pyramid | run one network on the image at several scales and merge | mentioned in lesson 03 |
# | encoder-decoder | shrink to get semantics, then grow back and mix with fine features | lesson 05 (RefineNet) |
# | deeper with atrous convolution | keep the resolution while growing the receptive field | lessons 01, 02 |
# | spatial pyramid pooling | several branches at different scales on one feature map | lesson 03 (ASPP, PSPNet) |
#
# On top of these: the fully-connected CRF sharpens boundaries after the network (lesson 04), Squeeze-and-Excitation re-weights channels (lesson 06), and lesson 07 compares everything on one table. The figure below sketches the four families.

# %%
fig = viz.multiscale_families()

# %% [markdown] lang="vi"
# ## 6. Mô hình cơ sở: FCN
#
# Mạng tích chập đầy đủ (FCN, Long và cộng sự, arXiv 1411.4038) biến **mọi** lớp kết nối đầy đủ của một mạng phân loại (VGG-16) thành tích chập, nên mạng nhận ảnh cỡ bất kỳ và trả về một bản đồ điểm số cho mỗi lớp, nhỏ hơn ảnh 32 lần. Bản đồ đó được phóng to ngay trong mạng bằng các lớp tích chập chuyển vị khởi tạo bằng nội suy song tuyến (*bilinear interpolation*), và các lớp phóng to trung gian được học (mục 3.3 và mục 4.2 của bài báo). Để biên bớt thô, FCN thêm các kết nối tắt (*skip connection*) từ những tầng nông hơn: FCN-32s chỉ phóng to đầu ra cuối, FCN-16s cộng thêm điểm số tính từ `pool4`, FCN-8s cộng thêm cả `pool3`. Mô hình cơ sở của khoá học là một phiên bản rút gọn kiểu FCN-32s: trên tầng cuối chỉ có một tích chập $3 \times 3$ và một lớp phân loại $1 \times 1$, không có kết nối tắt, rồi phóng to song tuyến cố định (không học) bản đồ điểm số, vốn nhỏ hơn ảnh một số lần bằng tỉ lệ giảm kích thước đầu ra (*output stride*). Ở đây ta dùng một mạng xương sống (*backbone*) kiểu ResNet rất nhỏ (`src.models.TinyBackbone`) với tỉ lệ giảm kích thước đầu ra 8, đủ nhẹ để huấn luyện trên CPU trong vài giây. Thanh tiến trình hiển thị giá trị hàm mất mát và mIoU trên tập kiểm định sau mỗi epoch. Mỗi lần đánh giá (`train.evaluate`) đều đưa mô hình về chế độ `eval()` trước, để batch norm dùng thống kê tích luỹ (*running statistics*) của nó chứ không dùng thống kê của batch hiện tại.

# %% [markdown] lang="en"
# ## 6. The baseline: FCN
#
# The fully convolutional network (FCN, Long et al., arXiv 1411.4038) turns **all** the fully connected layers of a classifier (VGG-16) into convolutions, so it takes an image of any size and returns a score map per class, 32 times smaller than the image. That map is upsampled inside the network by transposed convolutions initialised to bilinear interpolation, and the intermediate upsampling layers are learned (Sec. 3.3 and 4.2 of the paper). To make the boundaries less coarse, FCN adds skip connections from shallower stages: FCN-32s only upsamples the last output, FCN-16s adds scores computed from `pool4`, FCN-8s also from `pool3`. The course's baseline is a reduced FCN-32s-like model: on the last stage only a $3 \times 3$ convolution and a $1 \times 1$ classifier, no skip connection, then a fixed (not learned) bilinear upsampling of the score map, which is smaller than the image by the output stride. Here we use a very small ResNet-style backbone (`src.models.TinyBackbone`) at output stride 8, light enough to train on a CPU in seconds. The progress bar shows the loss and the validation mIoU after each epoch. Every evaluation (`train.evaluate`) first puts the model in `eval()` mode, so that batch norm uses its running statistics rather than those of the current batch.

# %%
src.seed_everything(0)
train_loader, val_loader = data.make_loaders("mosaic", size=64, batch_size=16)
fcn = models.FCN(num_classes=5, output_stride=8)
n_params = models.count_parameters(fcn)
print(src.tr(f"{n_params:_} tham số".replace("_", " "), f"{n_params:,} parameters"))
history = train.fit(fcn, train_loader, val_loader, epochs=12, lr=3e-3)

# %%
fig = viz.plot_history(history, title="FCN")
scores = train.evaluate(fcn, val_loader)
print(src.format_value(scores, 3))

# %% [markdown] lang="vi"
# Các con số ở trên được tính ngay trong notebook này: mIoU trên tập kiểm định, độ chính xác điểm ảnh và điểm F trên biên. Bảng dưới cho IoU của từng lớp, rồi hình cho thấy các chỗ sai (tô vàng, màu không lớp nào dùng).

# %% [markdown] lang="en"
# The numbers above are computed in this notebook: validation mIoU, pixel accuracy and boundary F. The table below gives the IoU of each class, then the figure shows where the model is wrong (in yellow, a colour no class uses).

# %%
val_set = val_loader.dataset
images = torch.stack([val_set[i][0] for i in range(len(val_set))])
preds = train.predict(fcn, images)
iou = metrics.per_class_iou(preds, torch.from_numpy(val_set.masks).long(), val_set.num_classes)
for name, value in zip(val_set.class_names, iou.tolist()):
    print(f"{name:10s} IoU = {src.format_number(value)}")
fig = viz.show_predictions(val_set.images, val_set.masks, preds, val_set.palette, val_set.class_names, n=4)

# %% [markdown] lang="vi"
# **Đọc các lỗi.** Ô dưới đo lỗi nằm ở đâu: tỉ lệ điểm ảnh sai nằm trong vòng 2 điểm ảnh quanh một biên thật, đặt cạnh tỉ lệ của **mọi** điểm ảnh nằm ở đó (nếu lỗi rải ngẫu nhiên, hai số sẽ bằng nhau), và mIoU trên tập huấn luyện đặt cạnh tập kiểm định.

# %% [markdown] lang="en"
# **Reading the mistakes.** The cell below measures where the errors are: the share of wrong pixels that lie within 2 pixels of a true boundary, next to the share of **all** pixels that lie there (if errors were spread at random the two would match), and the mIoU on the training set next to the validation set.

# %%
val_masks = torch.from_numpy(val_set.masks).long()
wrong = preds != val_masks
edge = torch.zeros_like(wrong)
edge[:, 1:, :] |= val_masks[:, 1:, :] != val_masks[:, :-1, :]
edge[:, :, 1:] |= val_masks[:, :, 1:] != val_masks[:, :, :-1]
near = torch.nn.functional.max_pool2d(edge[:, None].float(), 5, 1, 2)[:, 0].bool()  # within 2 px of a boundary
print(src.tr("điểm ảnh sai gần biên:", "wrong pixels near a boundary:"), f"{(wrong & near).sum() / wrong.sum():.0%}")
print(src.tr("mọi điểm ảnh gần biên:", "all pixels near a boundary:"), f"{near.float().mean():.0%}")
train_miou = train.evaluate(fcn, train_loader)["miou"]
print(
    src.tr("mIoU huấn luyện / kiểm định:", "train / val mIoU:"),
    f"{src.format_number(train_miou)} / {src.format_number(scores['miou'])}",
)

# %% [markdown] lang="vi"
# Đọc hình và các số này cùng nhau. Lỗi ở xa biên là **cả vùng** bị gán nhầm vân: mạng chưa phân biệt được một số loại vân trên những ảnh nó chưa thấy. Một mIoU huấn luyện cao hơn hẳn mIoU kiểm định nghĩa là mạng đã học thuộc một phần tập huấn luyện (quá khớp, *over-fitting*) thay vì học vân. Nếu tỉ lệ điểm ảnh sai gần biên lớn hơn tỉ lệ của mọi điểm ảnh gần biên, lỗi tập trung ở biên nhiều hơn mức ngẫu nhiên; một nguyên nhân có thể là bản đồ điểm số thô (tỉ lệ 1/8) được phóng to, nhưng ô trên không kiểm chứng nguyên nhân đó. Các bài sau xem xét từng hướng: trường tiếp nhận (bài 01), tích chập giãn (bài 02), ngữ cảnh đa tỉ lệ (bài 03), CRF cho biên (bài 04) và bộ giải mã làm tinh (*refining decoder*, bài 05).
#
# ## Ghi nhớ
#
# - Phân vùng ngữ nghĩa = phân loại từng điểm ảnh; đầu ra là tensor $C \times H \times W$.
# - Mọi thước đo bắt nguồn từ ma trận nhầm lẫn; mIoU cân bằng giữa các lớp, điểm F trên biên đo độ sắc của biên.
# - Độ chính xác điểm ảnh có thể đánh lừa khi dữ liệu lệch lớp.
# - Bốn họ phương pháp đa tỉ lệ: kim tự tháp ảnh, bộ mã hoá - bộ giải mã, tích chập giãn, gộp kim tự tháp không gian.
# - Luôn đánh giá ở chế độ `eval()` (batch norm dùng thống kê tích luỹ).
#
# ## Tài liệu tham khảo
#
# - J. Long, E. Shelhamer, T. Darrell. *Fully Convolutional Networks for Semantic Segmentation*. CVPR 2015, arXiv 1411.4038.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLabv3). arXiv 1706.05587.
# - G. Csurka, D. Larlus, F. Perronnin. *What is a good evaluation measure for semantic segmentation?* BMVC 2013.
# - M. Everingham và cộng sự. *The PASCAL Visual Object Classes (VOC) Challenge*. IJCV 2010 (định nghĩa IoU dùng rộng rãi).

# %% [markdown] lang="en"
# Read the figure and these numbers together. Errors far from boundaries are **whole regions** given the wrong texture: the network has not learned to tell some textures apart on images it has not seen. A training mIoU clearly above the validation mIoU means it has partly memorised its training set (over-fitting) rather than learned the textures. If the share of wrong pixels near a boundary exceeds the share of all pixels there, errors gather at boundaries more than chance would; one possible cause is the coarse score map (1/8 scale) being upsampled, but the cell above does not test that cause. The next lessons look at each direction: the receptive field (01), dilated convolution (02), multi-scale context (03), the CRF for boundaries (04) and the refining decoder (05).
#
# ## Key takeaways
#
# - Semantic segmentation = classifying every pixel; the output is a $C \times H \times W$ tensor.
# - Every metric comes from the confusion matrix; mIoU weighs classes equally, the boundary F-score measures how sharp boundaries are.
# - Pixel accuracy can mislead when classes are imbalanced.
# - Four families of multi-scale methods: image pyramid, encoder-decoder, atrous convolution, spatial pyramid pooling.
# - Always evaluate in `eval()` mode (batch norm uses its running statistics).
#
# ## References
#
# - J. Long, E. Shelhamer, T. Darrell. *Fully Convolutional Networks for Semantic Segmentation*. CVPR 2015, arXiv 1411.4038.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. *Rethinking Atrous Convolution for Semantic Image Segmentation* (DeepLabv3). arXiv 1706.05587.
# - G. Csurka, D. Larlus, F. Perronnin. *What is a good evaluation measure for semantic segmentation?* BMVC 2013.
# - M. Everingham et al. *The PASCAL Visual Object Classes (VOC) Challenge*. IJCV 2010 (the widely used IoU definition).
